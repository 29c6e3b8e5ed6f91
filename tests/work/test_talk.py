"""Comments, the mentions inbox and attachments of work sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sessionhub import Engine, Settings
from sessionhub.core.work.comments import mentions_in
from sessionhub.worker import Worker
from tests.conftest import Keys
from tests.work.conftest import Call, new_session

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def test_comments_thread_and_page(call: Call) -> None:
    """Replies name their parent; comments list oldest first, a page at a time."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}/comments"
    first = (await call("POST", base, json={"body": "one"})).json()
    await call("POST", base, json={"body": "two", "parent_id": first["id"]})
    await call("POST", base, json={"body": "three"})
    page = (await call("GET", base, params={"limit": 2})).json()
    rest = (await call("GET", base, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert ["one", "two", "three"] == [c["body"] for c in page["items"] + rest["items"]]
    assert first["id"] == page["items"][1]["parent_id"]
    assert rest["next_cursor"] is None


async def test_a_reply_to_an_unknown_comment_is_a_422(call: Call) -> None:
    """parent_id must be a comment of the same session."""
    work = await new_session(call)
    response = await call(
        "POST", f"/v1/work/sessions/{work['id']}/comments", json={"body": "x", "parent_id": "cmt_x"}
    )
    assert 422 == response.status_code


async def test_only_the_author_edits_or_deletes_a_comment(call: Call) -> None:
    """Another collaborator gets 403 not_the_author; the author edits (stamped) and deletes (a placeholder stays)."""
    work = await new_session(call)
    await call("POST", f"/v1/work/sessions/{work['id']}/members", json={"user_id": "bob"})
    base = f"/v1/work/sessions/{work['id']}/comments"
    comment = (await call("POST", base, json={"body": "draft"})).json()
    by_bob = await call("PATCH", f"{base}/{comment['id']}", user="bob", json={"body": "mine"})
    assert (403, "not_the_author") == (by_bob.status_code, by_bob.json()["error"]["code"])
    edited = (await call("PATCH", f"{base}/{comment['id']}", json={"body": "final"})).json()
    assert ("final", True) == (edited["body"], edited["edited_at"] is not None)
    assert 204 == (await call("DELETE", f"{base}/{comment['id']}")).status_code
    listed = (await call("GET", base)).json()["items"]
    assert [("", True)] == [(c["body"], c["deleted"]) for c in listed]


async def test_mentions_reach_the_mentioned_users_inbox(call: Call) -> None:
    """@bob in a comment lands in bob's inbox (unread), an edit that drops him removes it, and
    marking read empties the unread view; nobody else may read bob's inbox."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}/comments"
    comment = (await call("POST", base, json={"body": "@bob and @carol, see this"})).json()
    assert ["bob", "carol"] == comment["mentions"]
    inbox = (await call("GET", "/v1/work/users/bob/mentions", user="bob")).json()["items"]
    assert [(comment["id"], work["id"], "alice", None)] == [
        (m["comment_id"], m["session_id"], m["author_id"], m["read_at"]) for m in inbox
    ]
    assert 403 == (await call("GET", "/v1/work/users/bob/mentions", user="alice")).status_code
    await call("PATCH", f"{base}/{comment['id']}", json={"body": "only @carol"})
    assert [] == (await call("GET", "/v1/work/users/bob/mentions", user="bob")).json()["items"]
    marked = await call("POST", "/v1/work/users/carol/mentions/read", user="carol")
    assert 1 == marked.json()["marked"]
    unread = await call(
        "GET", "/v1/work/users/carol/mentions", user="carol", params={"unread": True}
    )
    assert [] == unread.json()["items"]


def test_mentions_are_parsed_from_the_text() -> None:
    """@names end at spaces and sentence dots; emails and repeats are not extra mentions."""
    assert ["bob", "ann.lee", "x-1"] == mentions_in("@bob, @ann.lee. mail me@example.com @x-1 @bob")


async def test_a_file_is_uploaded_downloaded_and_removed(call: Call, settings: Settings) -> None:
    """A PNG is stored under data_dir/attachments, listed with its hash, downloaded byte for byte and deleted with its file."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}/attachments"
    uploaded = await call(
        "POST",
        base,
        params={"name": "shot.png"},
        content=PNG,
        headers={"content-type": "image/png"},
    )
    assert 201 == uploaded.status_code, uploaded.text
    attachment = uploaded.json()
    stored = Path(settings.data_dir) / "attachments"
    assert 1 == len([p for p in stored.rglob("*") if p.is_file()])
    download = await call("GET", f"{base}/{attachment['id']}/content")
    assert (PNG, "image/png") == (download.content, download.headers["content-type"])
    assert "shot.png" in download.headers["content-disposition"]
    listed = (await call("GET", base)).json()["items"]
    assert [("file", len(PNG))] == [(a["kind"], a["size"]) for a in listed]
    assert 204 == (await call("DELETE", f"{base}/{attachment['id']}")).status_code
    assert [] == [p for p in stored.rglob("*") if p.is_file()]


async def test_the_worker_sweeps_files_of_sessions_deleted_elsewhere(
    call: Call, settings: Settings, engine: Engine, keys: Keys
) -> None:
    """Deleting a work session through /v1/sessions leaves its file until the sweep; a kept one stays."""
    gone, kept = await new_session(call), await new_session(call)
    for work in (gone, kept):
        uploaded = await call(
            "POST",
            f"/v1/work/sessions/{work['id']}/attachments",
            params={"name": "shot.png"},
            content=PNG,
            headers={"content-type": "image/png"},
        )
        assert 201 == uploaded.status_code, uploaded.text
    await engine.sessions.delete(keys.app_id, gone["id"])
    await Worker(engine).run_once()
    files = [p for p in (Path(settings.data_dir) / "attachments").rglob("*") if p.is_file()]
    for path in files:  # old enough for the sweep: their rows had long committed
        os.utime(path, (0, 0))
    removed = await engine.work.attachments.sweep(force=True)
    left = [p for p in files if p.exists()]
    assert (2, 1, 1) == (len(files), removed, len(left))


async def test_a_mislabelled_or_unlisted_file_is_refused(call: Call) -> None:
    """Text sent as image/png is 422 content_type_mismatch; a type not allowed is 422 content_type_not_allowed."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}/attachments"
    fake = await call(
        "POST",
        base,
        params={"name": "a.png"},
        content=b"hello",
        headers={"content-type": "image/png"},
    )
    exe = await call(
        "POST",
        base,
        params={"name": "a.exe"},
        content=b"MZ",
        headers={"content-type": "application/x-msdownload"},
    )
    assert [(422, "content_type_mismatch"), (422, "content_type_not_allowed")] == [
        (r.status_code, r.json()["error"]["code"]) for r in (fake, exe)
    ]


async def test_a_file_over_the_limit_is_a_413(
    settings: Settings, keys_engine_small: tuple[Engine, str]
) -> None:
    """With work_attachment_max_bytes = 10, an 11-byte file is refused 413 and nothing is stored."""
    engine, app_id = keys_engine_small
    from sessionhub.errors import PayloadTooLarge
    from sessionhub.models.work import WorkCreate

    work = await engine.work.sessions.create(app_id, "alice", WorkCreate(name="w"))
    with pytest.raises(PayloadTooLarge) as refused:
        await engine.work.attachments.add_file(
            app_id, "alice", work.id, "a.txt", "text/plain", b"x" * 11
        )
    assert 10 == refused.value.details["limit"]
    assert [] == list((Path(settings.data_dir) / "small" / "attachments").rglob("*"))


async def test_links_are_attachments_without_a_file(call: Call) -> None:
    """A link is listed with its URL and has no content to download (404)."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}"
    link = (await call("POST", f"{base}/links", json={"url": "https://example.com/spec"})).json()
    assert ("link", "https://example.com/spec") == (link["kind"], link["url"])
    assert 404 == (await call("GET", f"{base}/attachments/{link['id']}/content")).status_code


async def test_purging_an_archived_session_removes_its_files(
    call: Call, settings: Settings
) -> None:
    """Archive then purge: the session's files are gone from the data directory."""
    work = await new_session(call)
    base = f"/v1/work/sessions/{work['id']}"
    await call(
        "POST",
        f"{base}/attachments",
        params={"name": "n.txt"},
        content=b"notes",
        headers={"content-type": "text/plain"},
    )
    await call("DELETE", base)
    assert 204 == (await call("POST", f"{base}/purge")).status_code
    stored = Path(settings.data_dir) / "attachments"
    assert [] == [p for p in stored.rglob("*") if p.is_file()]
