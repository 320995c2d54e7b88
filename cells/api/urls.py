from cells.api import views


def register(router):
    router.register("cyclers", views.CyclerViewSet, basename="cycler")
    router.register("channels", views.ChannelViewSet, basename="channel")
    router.register("protocols", views.ProtocolViewSet, basename="protocol")
    router.register("cells", views.CellViewSet, basename="cell")
    router.register("cycling-runs", views.CyclingRunViewSet, basename="cyclingrun")
    router.register("raw-files", views.RawDataFileViewSet, basename="rawdatafile")
