import sys

from eln.harvester.cli import main

sys.exit(main())
