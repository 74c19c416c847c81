"""OpenAPI generation: every operation documents the one error shape for the codes it can give."""

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import TokenObtainPairSerializerExtension
from drf_spectacular.plumbing import get_lib_doc_excludes
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .serializers import FastReadMixin


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code.")
    code = serializers.CharField(help_text="A stable, machine-readable error code.")
    detail = serializers.CharField(help_text="A human-readable message.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field (dotted for nested fields); empty when none.",
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input; messages per field in `fields`.",
    "401": "No, invalid or expired credentials.",
    "403": "Your role may not do this to a visible object.",
    "404": "Not found, or not visible to you.",
    "409": "The object's state does not allow this; `detail` says what is missing.",
    "412": "`If-Match` does not match the object's current ETag.",
    "415": "The body is not JSON.",
    "429": "Too many requests; retry later.",
    "503": "The database is unavailable; retry later.",
}


class AutoSchema(openapi.AutoSchema):
    """Adds the shared error responses that each operation can give."""

    def _error_codes(self) -> list[str]:
        codes = ["400", "401"]
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes.append("403")
        if "{" in self.path or self.method == "GET":  # lists: a page that does not exist
            codes.append("404")
        one_object, writes = "{" in self.path, self.method in ("POST", "PATCH")
        if one_object and writes and hasattr(self.view, "transition_request_serializer"):
            codes.append("409")  # tickets and work orders: state guards
        if one_object and self.method == "PATCH" and hasattr(self.view, "with_etag"):
            codes.append("412")  # If-Match (views.ETagMixin)
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        return [*codes, "429", "503"]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses


def classes_whose_docstrings_are_not_api_docs() -> list[type]:
    """Where drf-spectacular stops looking up a class's bases for its description (the docs
    pages show it): DRF's own classes, and our mixins, whose docstrings explain our code."""
    return [*get_lib_doc_excludes(), FastReadMixin]


class LoginSerializerExtension(TokenObtainPairSerializerExtension):
    """The login's fields (email and password in, the two tokens out): spectacular's extension
    for simplejwt matches simplejwt's own serializer only, not the login's (accounts.tokens), and
    the login's answer was documented as having no body."""

    target_class = "accounts.tokens.TokenObtainPairSerializer"
