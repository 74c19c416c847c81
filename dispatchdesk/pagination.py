from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M`; sizes above the cap are served at the cap, not refused."""

    page_size_query_param = "page_size"
    max_page_size = 200
