import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from dispatchdesk.management.commands.lifecycle_diagrams import DIAGRAMS, diagram_path
from dispatchdesk.workflow import lifecycle_markdown


@pytest.mark.parametrize(("label", "filename"), DIAGRAMS.items())
def test_the_diagram_in_docs_matches_the_code(label, filename):
    model = apps.get_model(label)

    assert diagram_path(filename).read_text() == lifecycle_markdown(model), (
        "run: python manage.py lifecycle_diagrams"
    )


@pytest.mark.parametrize("label", DIAGRAMS)
def test_every_declared_transition_is_drawn(label):
    model = apps.get_model(label)
    text = lifecycle_markdown(model)

    for transition in model().get_all_status_transitions():
        assert f"{transition.source} --> {transition.target}: {transition.name}" in text


def test_check_mode_fails_on_a_stale_diagram(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    (tmp_path / "docs").mkdir()

    with pytest.raises(CommandError, match="Out of date"):
        call_command("lifecycle_diagrams", "--check")
    call_command("lifecycle_diagrams")
    call_command("lifecycle_diagrams", "--check")
