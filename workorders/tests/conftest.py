import pytest


@pytest.fixture
def work_order(cast):
    """An open work order of the cast's team, assigned to the cast's assignee."""
    from workorders.tests.factories import WorkOrderFactory

    return WorkOrderFactory(
        team=cast["team"], assignee=cast["assignee"], created_by=cast["supervisor"]
    )
