"""The cycler-PC harvester: watches a folder and uploads new and grown cycler files to the ELN.

Standard library only (it runs on cycler PCs where Django is not installed); nothing here may
import the server's modules.
"""
__version__ = "1.0"
