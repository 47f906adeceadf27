"""The base of the API's views: DRF's APIView, leaving no reference cycle behind it."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _renderer_context_forget(response: Response) -> None:
    # Once rendered, nothing reads it again; DRF put the response itself into it.
    response.renderer_context = None


class CycleFreeAPIView(APIView):
    """An APIView whose request is freed by reference counting as soon as it is answered.

    Four references made cycles: DRF's request keeps a parser context holding the request
    itself and the view; the view keeps its response; DRF's own responses (errors, OPTIONS)
    keep a renderer context holding the view and, once rendered, themselves; and Django's
    View.setup answers HEAD with GET by keeping the bound `get` on the view. Every call then
    left its whole request behind (Django's and DRF's request objects, the view, its
    authenticators, parsers and response: about fifty objects) for Python's cycle collector,
    whose passes cost a customer read about a twentieth of its time. Each is dropped once it
    has served.
    """

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response):
            response.add_post_render_callback(_renderer_context_forget)
        return response

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if isinstance(self.request, Request):  # DRF's, from initialize_request
                self.request.parser_context = None
            self.__dict__.pop("response", None)
            self.__dict__.pop("head", None)
