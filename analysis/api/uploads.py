"""The cyclers' door: raw files in, processing status out. Persons (members with write rights
of the run's project) and cycler tokens (for runs on that cycler's channels) may upload."""
from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import services
from analysis.models import ProcessingStage
from cells.authentication import CyclerPrincipal, CyclerTokenAuthentication, PersonOrCycler
from cells.models import CyclingRun, Dataset
from eln.permissions import can_write, visible_projects
from eln.security.authentication import ApiTokenAuthentication
from eln.uploads import HashingUploadHandler, StreamingSessionAuthentication, UploadTooLarge

AUTHENTICATION = [
    CyclerTokenAuthentication,
    ApiTokenAuthentication,
    # the CSRF token from the header: the file is read only once the hashing handler is set
    StreamingSessionAuthentication,
]


def run_for(request, human_id: str, *, write: bool) -> CyclingRun:
    run = CyclingRun.objects.select_related("project", "channel__cycler").filter(human_id=human_id).first()
    principal = request.user
    if isinstance(principal, CyclerPrincipal):
        if run is None or run.channel is None or run.channel.cycler_id != principal.cycler.pk:
            raise NotFound(f"No run {human_id} on a channel of cycler {principal.cycler.name}.")
        return run
    if run is None or not visible_projects(principal).filter(pk=run.project_id).exists():
        raise NotFound(f"No run {human_id} in your projects.")
    if write and not can_write(principal, run.project):
        raise PermissionDenied(f"You are a reader of project {run.project.name!r}; uploading needs write rights.")
    return run


def dataset_status(request, dataset: Dataset) -> dict:
    return {
        "dataset": dataset.human_id,
        "run": dataset.run.human_id,
        "source_name": dataset.source_name,
        "state": dataset.state,
        "message": dataset.message,
        "measurement_kind": dataset.measurement_kind,
        "warnings": dataset.warning_count,
        "raw_file": {
            "id": dataset.raw_file.pk,
            "original_name": dataset.raw_file.original_name,
            "sha256": dataset.raw_file.sha256,
            "size_bytes": dataset.raw_file.size_bytes,
            "supersedes": dataset.raw_file.supersedes_id,
        },
        "reader": {"name": dataset.reader_name, "version": dataset.reader_version} if dataset.reader_name else None,
        "row_count": dataset.row_count,
        "stages": [
            {"name": stage.name, "state": stage.state, "message": stage.message, "attempts": stage.attempts,
             "requeues": stage.requeues, "queued_at": stage.queued_at, "started_at": stage.started_at,
             "finished_at": stage.finished_at}
            for stage in sorted(dataset.stages.all(), key=lambda s: ProcessingStage.ORDER.index(s.name))
        ],
        "status_url": request.build_absolute_uri(reverse("dataset-status", args=[dataset.human_id])),
    }



class RawFileUploadView(APIView):
    """Post a cycler's raw file (multipart field ``file``) for a run; answers 202 with its status URL."""

    authentication_classes = AUTHENTICATION
    permission_classes = [PersonOrCycler]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("RawFileUpload", {"file": serializers.FileField()})},
        responses={202: OpenApiResponse(description="stored and queued (or waiting for the queue), or the "
                                                            "same bytes of a dataset that never ran, queued again"),
                   200: OpenApiResponse(description="the same bytes were already there and processed"),
                   413: OpenApiResponse(description="larger than the upload limit")},
    )
    def post(self, request, human_id: str):
        limit = settings.ELN_UPLOAD_MAX_BYTES
        too_large = Response(
            {"detail": f"The file is larger than the upload limit of {limit} bytes ({limit / 1024**2:.0f} MiB)."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + 64 * 1024:  # the multipart envelope is small
            return too_large
        run = run_for(request, human_id, write=True)
        request._request.upload_handlers = [HashingUploadHandler(request._request, limit_bytes=limit)]
        try:
            uploaded = request.FILES.get("file")
        except UploadTooLarge:
            return too_large
        if uploaded is None:
            return Response({"file": ["Send the cycler's file in the multipart field 'file'."]},
                            status=status.HTTP_400_BAD_REQUEST)
        if isinstance(request.user, CyclerPrincipal):
            received = services.raw_file_receive(run=run, uploaded=uploaded, cycler_token=request.user.token)
        else:
            received = services.raw_file_receive(run=run, uploaded=uploaded, user=request.user)
        # With tasks run in process, processing has already happened: answer with where it got.
        received.dataset.refresh_from_db()
        body = dataset_status(request, received.dataset)
        body["created"] = received.created
        # 202 whenever it is queued: new bytes, or the same bytes of a dataset that never ran
        accepted = received.created or received.queued
        return Response(body, status=status.HTTP_202_ACCEPTED if accepted else status.HTTP_200_OK,
                        headers={"Location": body["status_url"]})


class DatasetStatusView(APIView):
    """Where a dataset's processing stands: each stage's state and, on failure, why."""

    authentication_classes = AUTHENTICATION
    permission_classes = [PersonOrCycler]

    @extend_schema(responses={200: OpenApiResponse(description="the dataset's processing state")})
    def get(self, request, human_id: str):
        dataset = get_object_or_404(
            Dataset.objects.select_related("run__channel", "raw_file").prefetch_related("stages"), human_id=human_id
        )
        run_for(request, dataset.run.human_id, write=False)
        return Response(dataset_status(request, dataset))
