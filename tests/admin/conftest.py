import pytest


@pytest.fixture
def manager(people):
    """The lab manager, as a superuser of the admin."""
    user = people["lab_manager"]
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def browser(client, manager):
    """A browser session logged in as the lab manager."""
    client.force_login(manager)
    return client
