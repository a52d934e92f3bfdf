"""Which pages each role sees (pure data, so tests can check it without running Streamlit).

Pages still check the role themselves (`require_role`), so opening a page's URL directly, or a page left
out of someone's navigation, shows an error instead of data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.db.models import Role

DASHBOARD_DIR = Path(__file__).parent
TEACHER, ADMIN, ANALYST = Role.teacher.value, Role.admin.value, Role.analyst.value


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to dashboard/, as st.Page wants file pages (AppTest.switch_page needs them)
    title: str
    icon: str
    roles: tuple[str, ...]
    section: str

    @property
    def exists(self) -> bool:
        return (DASHBOARD_DIR / self.path).is_file()


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/my_lessons.py", "My lessons", ":material/video_library:", (TEACHER, ADMIN), "Lessons"),
    PageSpec("pages/upload.py", "Upload", ":material/upload:", (TEACHER, ADMIN), "Lessons"),
    PageSpec("pages/preview.py", "Lesson preview", ":material/play_circle:", (TEACHER, ADMIN), "Lessons"),
    PageSpec("pages/engagement.py", "Engagement", ":material/monitoring:", (TEACHER, ADMIN, ANALYST), "Analytics"),
    PageSpec("pages/warehouse.py", "Warehouse", ":material/database:", (ANALYST, ADMIN), "Analytics"),
    PageSpec("pages/sql.py", "SQL", ":material/terminal:", (ANALYST, ADMIN, TEACHER), "Analytics"),
    # Written by the costs and migration work; each is listed once its file exists, so the navigation never
    # points at a missing page.
    PageSpec("pages/admin_costs.py", "Costs", ":material/payments:", (ADMIN,), "Admin"),
    PageSpec("pages/admin_migration.py", "Migration", ":material/move_up:", (ADMIN,), "Admin"),
    PageSpec("pages/admin_operations.py", "Operations", ":material/monitor_heart:", (ADMIN,), "Admin"),
    PageSpec("pages/admin_playback.py", "Playback health", ":material/speed:", (ADMIN,), "Admin"),
    PageSpec("pages/admin_migration_ops.py", "Migration actions", ":material/undo:", (ADMIN,), "Admin"),
    PageSpec("pages/admin_webhook_log.py", "Webhook log", ":material/webhook:", (ADMIN,), "Admin"),
    # Addresses, versions and the user count: internals, for admins only.
    PageSpec("pages/status.py", "System status", ":material/health_and_safety:", (ADMIN,), "Admin"),
)
SIGN_IN = PageSpec("pages/signin.py", "Sign in", ":material/login:", (), "")
DEFAULT_PAGE = {TEACHER: "pages/my_lessons.py", ADMIN: "pages/my_lessons.py", ANALYST: "pages/engagement.py"}


def pages_for(role: str) -> dict[str, list[PageSpec]]:
    """The pages a role sees, by section, in navigation order."""
    sections: dict[str, list[PageSpec]] = {}
    for spec in PAGES:
        if role in spec.roles and spec.exists:
            sections.setdefault(spec.section, []).append(spec)
    return sections
