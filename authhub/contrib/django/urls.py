"""``include("authhub.contrib.django.urls")``: the hub's plugin routes (see :mod:`authhub.contrib.django.views`)."""

from authhub.contrib.django.views import hub_urlpatterns

urlpatterns = hub_urlpatterns()
