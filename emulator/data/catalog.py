"""Fixed vocabularies of the simulated audience: player setups, countries, player errors.

Names follow what Mux Data reports (`viewer_application_name`, `viewer_os_family`, ...). The numbers are
the simulator's model: shares of the audience and how much each setup or country multiplies failures,
startup time and rebuffering. Safari on macOS, Samsung Internet and Firefox are deliberately worse.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    device: str  # viewer_device_category
    os: str  # viewer_os_family
    browser: str  # viewer_application_name
    player: str  # player_name as Lectern's player integration sets it
    share: float
    failure: float  # multiplies the base playback failure rate
    startup: float  # multiplies the median video startup time
    rebuffer: float  # multiplies the rebuffer rate
    errors: tuple[float, ...]  # weights over ERRORS for this setup's failures


# Weights over ERRORS: network, decode, src not supported, hls manifest, hls stall.
_NET = (0.55, 0.05, 0.05, 0.25, 0.10)
_SAFARI = (0.20, 0.45, 0.30, 0.00, 0.05)
_SAMSUNG = (0.15, 0.20, 0.55, 0.05, 0.05)
_FIREFOX = (0.25, 0.50, 0.05, 0.10, 0.10)

PROFILES: tuple[Profile, ...] = (
    Profile("desktop", "Windows", "Chrome", "lectern-web", 0.25, 1.0, 1.0, 1.0, _NET),
    Profile("desktop", "Windows", "Edge", "lectern-web", 0.08, 1.0, 1.05, 1.0, _NET),
    Profile("desktop", "Windows", "Firefox", "lectern-web", 0.04, 3.0, 1.2, 1.1, _FIREFOX),
    Profile("desktop", "OS X", "Chrome", "lectern-web", 0.09, 1.0, 0.9, 0.9, _NET),
    Profile("desktop", "OS X", "Safari", "lectern-web", 0.08, 4.0, 1.3, 1.0, _SAFARI),
    Profile("desktop", "Linux", "Firefox", "lectern-web", 0.02, 3.0, 1.2, 1.1, _FIREFOX),
    Profile("desktop", "Linux", "Chrome", "lectern-web", 0.02, 1.0, 1.0, 1.0, _NET),
    Profile("desktop", "Chrome OS", "Chrome", "lectern-web", 0.03, 1.2, 1.3, 1.2, _NET),
    Profile("phone", "iOS", "Mobile Safari", "lectern-web", 0.14, 1.5, 1.3, 1.6, _SAFARI),
    Profile("phone", "Android", "Chrome Mobile", "lectern-web", 0.13, 1.3, 1.4, 1.8, _NET),
    Profile("phone", "Android", "Samsung Internet", "lectern-web", 0.05, 6.0, 1.6, 2.0, _SAMSUNG),
    Profile("tablet", "iOS", "Mobile Safari", "lectern-web", 0.05, 1.5, 1.2, 1.3, _SAFARI),
    Profile("tablet", "Android", "Chrome Mobile", "lectern-web", 0.02, 1.3, 1.3, 1.5, _NET),
)

HIGH_ERROR_BROWSERS: tuple[str, ...] = ("Safari", "Samsung Internet", "Firefox")


@dataclass(frozen=True)
class Country:
    code: str
    utc_offset_h: float  # local time drives the daily rhythm and what counts as a weekend
    share: float
    network: float  # multiplies rebuffering and startup time (bandwidth, distance to the CDN)


COUNTRIES: tuple[Country, ...] = (
    Country("US", -5.0, 0.34, 1.0),
    Country("CA", -5.0, 0.05, 1.0),
    Country("MX", -6.0, 0.04, 1.5),
    Country("BR", -3.0, 0.06, 1.6),
    Country("GB", 0.0, 0.09, 0.9),
    Country("ES", 1.0, 0.04, 1.0),
    Country("FR", 1.0, 0.05, 0.95),
    Country("DE", 1.0, 0.07, 0.9),
    Country("NG", 1.0, 0.04, 2.5),
    Country("IN", 5.5, 0.12, 2.0),
    Country("PH", 8.0, 0.05, 2.2),
    Country("AU", 10.0, 0.05, 1.3),
)


@dataclass(frozen=True)
class PlayerError:
    type_id: int  # Mux's error_type_id (ids are per environment; these are the emulator's)
    code: str
    message: str


ERRORS: tuple[PlayerError, ...] = (
    PlayerError(1101, "2", "MEDIA_ERR_NETWORK: A network error caused the media download to fail part-way."),
    PlayerError(
        1102,
        "3",
        "MEDIA_ERR_DECODE: The media playback was aborted due to a corruption problem or because the media "
        "used features your browser did not support.",
    ),
    PlayerError(
        1103,
        "4",
        "MEDIA_ERR_SRC_NOT_SUPPORTED: The media could not be loaded, either because the server or network "
        "failed or because the format is not supported.",
    ),
    PlayerError(1104, "manifestLoadError", "networkError: manifestLoadError"),
    PlayerError(1105, "bufferStalledError", "mediaError: bufferStalledError"),
)

# Local hour-of-day weights (index = hour; two rows of 12 hours each, kept by `fmt: skip`). Students watch
# at lunch and in the evening on weekdays, and from late morning on weekends.
WEEKDAY_HOURS: tuple[float, ...] = (
    0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.55, 0.8, 0.95, 1.0, 1.1,
    1.25, 1.15, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.1, 1.9, 1.3, 0.6,
)  # fmt: skip
WEEKEND_HOURS: tuple[float, ...] = (
    0.4, 0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.2, 0.45, 0.8, 1.2, 1.4,
    1.5, 1.5, 1.45, 1.4, 1.35, 1.3, 1.3, 1.4, 1.45, 1.3, 1.0, 0.7,
)  # fmt: skip

# Dimensions Mux accepts in filters[] and group_by (the `dimension` enum of Mux's OpenAPI). The ones the
# emulator does not simulate exist on no view: `cdn:x` matches nothing and `!cdn:x` everything.
MUX_DIMENSIONS: frozenset[str] = frozenset((
    "asn", "asset_id", "browser", "browser_version", "cdn", "continent_code", "country", "custom_1", "custom_2",
    "custom_3", "custom_4", "custom_5", "custom_6", "custom_7", "custom_8", "custom_9", "custom_10",
    "exit_before_video_start", "experiment_name", "live_stream_id", "operating_system", "operating_system_version",
    "page_type", "page_url", "playback_failure", "playback_business_exception", "playback_id", "player_autoplay",
    "player_error_code", "player_mux_plugin_name", "player_mux_plugin_version", "player_name", "player_preload",
    "player_remote_played", "player_software", "player_software_version", "player_version",
    "preroll_ad_asset_hostname", "preroll_ad_tag_hostname", "preroll_played", "preroll_requested", "region",
    "source_hostname", "source_type", "stream_type", "sub_property_id", "video_content_type",
    "video_encoding_variant", "video_id", "video_series", "video_startup_failure",
    "video_startup_business_exception", "video_title", "view_drm_type", "view_has_ad", "view_session_id",
    "viewer_connection_type", "viewer_device_category", "viewer_device_manufacturer", "viewer_device_model",
    "viewer_device_name", "viewer_user_id", "ad_playback_failure", "content_playback_failure", "view_dropped",
    "client_application_name", "client_application_version", "video_affiliate", "viewer_plan", "viewer_plan_status",
    "viewer_plan_category", "view_drm_level", "video_brand", "used_pip", "time_shift_enabled", "used_captions",
    "video_codec", "audio_codec", "video_dynamic_range_type", "view_cdn_edge_pop", "view_cdn_origin",
    "video_creator_id", "video_cdn_trace"
))  # fmt: skip
