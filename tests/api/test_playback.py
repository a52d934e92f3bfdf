"""GET /api/videos/{id}/playback over HTTP: access, providers, tokens, cache headers."""

from __future__ import annotations

import time

import jwt
import pytest

from core.auth import mint_token
from core.db.engine import transaction
from core.privacy import viewer_user_id
from tests.api.conftest import ApiFactory, RunningApi, api_settings
from tests.conftest import S3Server
from tests.core.signing import signing_key
from tests.factories import enroll, make_course, make_lesson, make_user


@pytest.fixture
def api(db_url: str, s3: S3Server, start_api: ApiFactory) -> RunningApi:
    key = signing_key()
    return start_api(
        api_settings(
            db_url,
            s3,
            mux_signing_key_id=key.key_id,
            mux_signing_private_key=key.private_key_b64,
            playback_token_ttl_s=600,
            playback_token_bucket_s=60,
            s3_presign_ttl_s=900,
        )
    )


@pytest.fixture
def world(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        teacher, other_teacher, admin = make_user(s, "teacher"), make_user(s, "teacher"), make_user(s, "admin")
        student, stranger = make_user(s), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        signed = make_lesson(
            s,
            course,
            playback_policy="signed",
            mux_playback_id="SIGNEDPID",
            mux_asset_id="A1",
            video_provider="mux",
            video_status="ready",
            video_duration_s=12.5,
        )
        public = make_lesson(s, course, mux_playback_id="PUBPID", video_provider="mux", video_status="ready")
        legacy = make_lesson(s, course, video_url="legacy/l.mp4", duration_s=30.0)
        pending = make_lesson(s, course, video_status="processing", mux_asset_id="A9")
        return {
            "teacher": teacher.id,
            "other_teacher": other_teacher.id,
            "admin": admin.id,
            "student": student.id,
            "stranger": stranger.id,
            "signed": signed.id,
            "public": public.id,
            "legacy": legacy.id,
            "pending": pending.id,
        }


def get(api: RunningApi, lesson_id: int, user_id: int | None, **headers: str):  # type: ignore[no-untyped-def]
    hdrs = dict(headers) if user_id is None else api.auth(user_id) | headers
    return api.http.get(f"/api/videos/{lesson_id}/playback", headers=hdrs)


def test_access(api: RunningApi, world: dict[str, int]) -> None:
    expected = {"student": 200, "teacher": 200, "admin": 200, "other_teacher": 404, "stranger": 404}
    for who, status in expected.items():
        resp = get(api, world["signed"], world[who])
        assert resp.status_code == status, (who, resp.text)
        if status == 404:
            # The answer for a lesson one may not see is the answer for one that does not exist.
            unknown = get(api, 999_999, world[who]).json()
            assert resp.json() == {"error": {**unknown["error"], "message": f"lesson {world['signed']} not found"}}


def test_no_or_bad_token_is_401_unknown_lesson_404(api: RunningApi, world: dict[str, int]) -> None:
    assert get(api, world["signed"], None).status_code == 401
    assert (
        get(api, world["signed"], None, Authorization="Bearer nope")
        .json()["error"]["reason"]
        .startswith("invalid token")
    )
    expired = mint_token(
        api.settings.platform_jwt_secret.get_secret_value(), world["student"], ttl_s=60, now=time.time() - 120
    )
    resp = get(api, world["signed"], None, Authorization=f"Bearer {expired}")
    assert (resp.status_code, resp.json()["error"]["reason"]) == (401, "token expired")
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert get(api, 999_999, world["student"]).status_code == 404


def test_signed_lesson_tokens_verify_and_bind_the_viewer(api: RunningApi, world: dict[str, int]) -> None:
    resp = get(api, world["signed"], world["student"])
    body = resp.json()
    assert (body["provider"], body["policy"], body["duration_s"]) == ("mux", "signed", 12.5)
    key = signing_key()
    # The viewer is bound by the pseudonymous key the player also sends Mux Data, never the user id.
    viewer = viewer_user_id(api.settings, world["student"])
    assert body["viewer_user_id"] == viewer and viewer != str(world["student"]) and len(viewer) == 18
    for name, aud in (("video", "v"), ("thumbnail", "t"), ("storyboard", "s")):
        token = body["tokens"][name]
        claims = jwt.decode(token, key.public_key, algorithms=["RS256"], audience=aud)
        assert (claims["sub"], claims["viewer_id"]) == ("SIGNEDPID", viewer)
        assert jwt.get_unverified_header(token)["kid"] == key.key_id
    assert body["urls"]["hls"].endswith(f"/SIGNEDPID.m3u8?token={body['tokens']['video']}")
    expires = body["expires_at"]
    assert expires is not None
    max_age = int(resp.headers["Cache-Control"].removeprefix("private, max-age="))
    assert 0 < max_age < 600  # below the token lifetime
    # A second request in the same bucket gets the cached tokens (no re-signing).
    assert get(api, world["signed"], world["student"]).json()["tokens"] == body["tokens"]
    other = get(api, world["signed"], world["teacher"]).json()["tokens"]
    assert other["video"] != body["tokens"]["video"]


def test_public_lesson_has_plain_urls(api: RunningApi, world: dict[str, int]) -> None:
    resp = get(api, world["public"], world["student"])
    body = resp.json()
    assert body["tokens"] == {} and body["expires_at"] is None
    assert body["urls"]["hls"].endswith("/PUBPID.m3u8")
    assert resp.headers["Cache-Control"] == f"private, max-age={api.settings.playback_public_max_age_s}"


def test_legacy_lesson_gets_a_presigned_s3_url(api: RunningApi, world: dict[str, int], s3: S3Server) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="legacy/l.mp4", Body=b"legacy-video")
    body = get(api, world["legacy"], world["student"]).json()
    assert (body["provider"], body["policy"], body["duration_s"]) == ("s3", "presigned", 30.0)
    assert "X-Amz-Expires=900" in body["urls"]["mp4"]
    import httpx

    assert httpx.get(body["urls"]["mp4"]).content == b"legacy-video"


def test_no_playable_video_is_409_with_status(api: RunningApi, world: dict[str, int]) -> None:
    resp = get(api, world["pending"], world["student"])
    assert resp.status_code == 409
    assert resp.json()["error"]["context"]["status"] == "processing"
    assert resp.headers["Cache-Control"] == "no-store"


def test_signed_lesson_without_signing_key_is_503(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url))
    with transaction(api.session_factory) as s:
        student = make_user(s)
        lesson = make_lesson(s, playback_policy="signed", mux_playback_id="X", video_status="ready")
        enroll(s, student, lesson.course_id)
        ids = (lesson.id, student.id)
    resp = get(api, ids[0], ids[1])
    assert resp.status_code == 503
    assert "MUX_SIGNING_KEY_ID" in resp.json()["error"]["message"]


def test_legacy_playback_without_s3_credentials_is_503_not_500(
    db_url: str, s3: S3Server, start_api: ApiFactory, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # No credentials anywhere boto3 looks (settings, environment, files, instance metadata): presigning, which
    # happens locally, raised botocore's NoCredentialsError straight through the route as a 500.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    api = start_api(api_settings(db_url, s3, aws_access_key_id="", aws_secret_access_key=""))
    with transaction(api.session_factory) as s:
        student = make_user(s)
        lesson = make_lesson(s, video_url="legacy/l.mp4", duration_s=30.0)
        enroll(s, student, lesson.course_id)
        ids = (lesson.id, student.id)
    resp = get(api, *ids)
    assert resp.status_code == 503, resp.text
    error = resp.json()["error"]
    assert error["type"] == "StorageCredentialsInvalid"
    assert "S3 credentials" in error["message"] and "legacy/l.mp4" not in error["message"]  # no internals


@pytest.mark.parametrize("lesson_id", [2**31, 2**63, 2**64 + 5, 10**30, 0, -1])
def test_lesson_ids_out_of_range_are_422_not_500(api: RunningApi, world: dict[str, int], lesson_id: int) -> None:
    for path in (f"/api/videos/{lesson_id}/playback", f"/api/lessons/{lesson_id}/status"):
        resp = api.http.get(path, headers=api.auth(world["student"]))
        assert resp.status_code == 422, (path, resp.text)
    assert get(api, 2**31 - 1, world["student"]).status_code == 404  # the largest id is an unknown lesson


def test_tokens_naming_impossible_users_are_401_not_500(api: RunningApi, world: dict[str, int]) -> None:
    secret = api.settings.platform_jwt_secret.get_secret_value()
    for claims in ({"sub": str(2**31), "exp": int(time.time()) + 60}, {"sub": "1", "exp": "tomorrow"}):
        token = jwt.encode(claims, secret, algorithm="HS256")
        resp = get(api, world["signed"], None, Authorization=f"Bearer {token}")
        assert resp.status_code == 401, (claims, resp.text)
