"""The admin's import page: the `manage.py import_*` commands for files a browser can send.

A supervisor uploads a CSV or JSON file and sees what it would do: a dry run, with every bad row
as `line N: field: message`. Nothing is written until they confirm; the file waits in their
session (the database) in between, so the confirmation does not send it again. Confirming runs
the import for real, all or nothing, or with the bad rows skipped if they chose so; the rows are
checked again then, against the database as it is at that moment. The importers, rules and
history are those of the commands (dispatchdesk.bulk). Files are limited to the request size
(`DJANGO_MAX_REQUEST_BYTES`); larger ones are for the commands.
"""

import base64
import hashlib
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from . import bulk

# The report shows this many bad rows at most; the count says how many there are.
SHOWN_ERRORS = 200


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A .csv or .json file with the columns of the import.")
    format = forms.ChoiceField(
        choices=[("", "from the file's name"), ("csv", "CSV"), ("json", "JSON")],
        required=False,
    )


class ImportAdminMixin:
    """Adds `import/` to a ModelAdmin, with an "Import" button on its change list."""

    importer_class: type[bulk.Importer]
    change_list_template = "admin/dispatchdesk/change_list_with_import.html"

    def has_import_permission(self, request) -> bool:
        """Supervisors and admins import tickets and work orders (see UserAdmin for people)."""
        return request.user.is_active and request.user.is_staff

    def url_name(self, view: str) -> str:
        """The name of one of this model's admin views (`import`, `changelist`, ...)."""
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_{view}"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name=self.url_name("import")), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if self.has_import_permission(request):
            import_url = reverse(f"admin:{self.url_name('import')}")
            extra_context = {**(extra_context or {}), "import_url": import_url}
        return super().changelist_view(request, extra_context)

    @property
    def pending_key(self) -> str:
        return f"dispatchdesk.import.{self.model._meta.label_lower}"

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self.confirm(request)
        form = UploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST":
            request.session.pop(self.pending_key, None)  # a new upload replaces a waiting one
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            content, fmt = upload.read(), form.cleaned_data["format"] or None
            try:
                rows = self.read(upload.name, fmt, content)
            except bulk.FileProblem as exc:
                form.add_error("file", str(exc))
            else:
                report = self.run(rows, upload.name, dry_run=True, by=request.user)
                checked = hashlib.sha256(content).hexdigest()
                request.session[self.pending_key] = {
                    "name": upload.name,
                    "format": fmt,
                    "content": base64.b64encode(content).decode("ascii"),
                    "checked": checked,
                }
                return self.render_import(request, form, report, checked=checked)
        return self.render_import(request, form, report)

    def confirm(self, request):
        pending = request.session.get(self.pending_key)
        if pending is None:
            self.message_user(
                request, "There is no checked file waiting: upload it again.", messages.ERROR
            )
            return HttpResponseRedirect(request.path)
        if request.POST.get("checked") != pending.get("checked"):
            # A page left open while another file was checked (in another tab): the waiting file
            # is not the one this page showed; it stays waiting for its own page.
            self.message_user(
                request,
                f"Nothing was written: the file waiting is {pending['name']}, checked after the "
                "page you confirmed on. Confirm on its page, or upload yours again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.path)
        del request.session[self.pending_key]
        content = base64.b64decode(pending["content"])
        skip_invalid = request.POST.get("skip_invalid") == "1"
        try:
            rows = self.read(pending["name"], pending["format"], content)
        except bulk.FileProblem as exc:  # read a moment ago; a deploy may have come in between
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.path)
        try:
            report = self.run(rows, pending["name"], skip_invalid=skip_invalid, by=request.user)
        except bulk.ChangedMeanwhile as exc:
            kept = "the batches before were kept" if skip_invalid else "nothing was written"
            self.message_user(request, f"{exc}; {kept}. Check the file again.", messages.ERROR)
            return HttpResponseRedirect(request.path)
        except IntegrityError:
            # A row written meanwhile with the same key (the same file confirmed twice at once,
            # from two clicks that both found it waiting), as the import command says it.
            kept = "the batches before were kept" if skip_invalid else "nothing was written"
            self.message_user(
                request,
                f"The database refused a batch ({kept}): did something write the same rows "
                "meanwhile? Check the file again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.path)
        if not report.failed:
            self.message_user(request, report.summary(), messages.SUCCESS)
            return HttpResponseRedirect(reverse(f"admin:{self.url_name('changelist')}"))
        # Rows can go bad between the check and the confirmation: they are shown as the check
        # showed them.
        if skip_invalid:
            self.message_user(request, report.summary(), messages.WARNING)
        else:
            self.message_user(
                request,
                f"Nothing was written: {report.failed:,} of {report.rows:,} rows failed when "
                "they were checked again.",
                messages.ERROR,
            )
        return self.render_import(request, UploadForm(), report)

    def read(self, name: str, fmt: str | None, content: bytes) -> list[bulk.Row]:
        if fmt is None and Path(name).suffix.lower().lstrip(".") not in bulk.FORMATS:
            # bulk.detect_format would point to the commands' --format.
            raise bulk.FileProblem(f"{name}: cannot tell the format from the name; choose one.")
        return self.importer_class.read(content, name, bulk.detect_format(name, fmt))

    def run(self, rows, name: str, *, dry_run=False, skip_invalid=False, by=None) -> bulk.Report:
        importer = self.importer_class(by=by)
        return bulk.run_import(
            importer, rows, name=name, dry_run=dry_run, skip_invalid=skip_invalid
        )

    def render_import(self, request, form, report, *, checked: str = ""):
        opts = self.model._meta
        errors = report.error_lines() if report else []
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": f"Import {opts.verbose_name_plural}",
            "form": form,
            "report": report,
            "errors": errors[:SHOWN_ERRORS],
            "more_errors": max(0, len(errors) - SHOWN_ERRORS),
            "columns": ", ".join(self.importer_class.columns),
            "max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            "checked": report is not None and report.dry_run,
            # Names the file this page checked, for its confirmation (see `confirm`).
            "checked_file": checked,
        }
        return TemplateResponse(request, "admin/dispatchdesk/import.html", context)
