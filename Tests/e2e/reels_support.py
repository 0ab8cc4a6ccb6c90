"""Helpers shared by the reels suites (test_reels_*.py): SQL as the database owner, ready reels
inserted directly (the upload pipeline has its own suite), users signed in once per module,
RPCs over plain HTTP (`POST /rest/v1/rpc/<name>`), uploads into the `reels` bucket and clips
made by ffmpeg.

A signed-in user is `(user id, access token, client)`; the client stays open until the
module's fixture ends (the pipeline suites subscribe to realtime with it).
"""

from __future__ import annotations

import subprocess
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Iterable

import httpx

from e2e_support import close_client, new_client, sign_in
from test_cross_instance import database_url


def sql(server, statement: str) -> str:
    """Runs `statement` with psql as the database owner; its output, unaligned, without
    headers or status lines."""
    result = subprocess.run(["psql", database_url(server), "-qAt", "-v", "ON_ERROR_STOP=1", "-c", statement],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def new_reel(server, author: str, *, visibility: str = "public", state: str = "ready", moderation: str = "approved",
             caption: str = "e2e", hashtags: Iterable[str] = (), likes: int = 0, views: int = 0, hours_ago: float = 0) -> str:
    """A reel inserted as the owner would leave it once processed (its own original path); its id."""
    path = f"{author}/{uuid.uuid4()}.mp4"
    tags = list(hashtags)
    tag_array = f"ARRAY[{', '.join(_literal(tag) for tag in tags)}]" if tags else "'{}'::text[]"
    return sql(server, "INSERT INTO reels.reels (author_id, visibility, state, moderation, original_path, caption, hashtags, "
                       f"like_count, view_count, created_at) VALUES ({_literal(author)}, {_literal(visibility)}, {_literal(state)}, "
                       f"{_literal(moderation)}, {_literal(path)}, {_literal(caption)}, {tag_array}, {int(likes)}, {int(views)}, "
                       f"now() - interval '{float(hours_ago)} hours') RETURNING id").splitlines()[0]


@asynccontextmanager
async def signed_in(server, phones: Iterable[str]) -> AsyncIterator[dict[str, tuple[str, str, object]]]:
    """phone -> (user id, access token, client) for each phone, signed in one after the other;
    the clients are closed on exit."""
    clients, found = [], {}
    try:
        for phone in phones:
            client = await new_client(server.url, server.anon_key)
            clients.append(client)
            response = await sign_in(client, phone)
            found[phone] = (response.user.id, response.session.access_token, client)
        yield found
    finally:
        for client in clients:
            await close_client(client)


def auth(server, token: str) -> dict[str, str]:
    """The headers of a signed-in call."""
    return {"apikey": server.anon_key, "Authorization": f"Bearer {token}"}


async def call(http, server, user, name: str, args: dict) -> httpx.Response:
    """The RPC `name` as `user` (a signed-in tuple)."""
    return await http.post(f"/rest/v1/rpc/{name}", json=args, headers=auth(server, user[1]))


def phone_caller(server, http, people):
    """`await invoke(phone, name, args)`: the RPC as that phone's user of `people` (from
    ``signed_in``), or anonymously (anon key only) for phone None."""

    async def invoke(phone: str | None, name: str, args: dict | None = None) -> httpx.Response:
        headers = {"apikey": server.anon_key}
        if phone is not None:
            headers["Authorization"] = f"Bearer {people[phone][1]}"
        return await http.post(f"/rest/v1/rpc/{name}", json=args or {}, headers=headers)

    return invoke


async def ok(response: httpx.Response) -> dict:
    """The JSON body of a 200 answer."""
    assert response.status_code == 200, response.text
    return response.json()


async def upload(http, server, user, name: str, body: bytes, content_type: str = "video/mp4") -> tuple[httpx.Response, str]:
    """Stores `body` as `<user id>/<name>` in the reels bucket; the answer and the object path."""
    path = f"{user[0]}/{name}"
    response = await http.post(f"/storage/v1/object/reels/{path}", content=body,
                               headers={**auth(server, user[1]), "Content-Type": content_type})
    return response, path


def ffmpeg(path: Path, *arguments: str) -> bytes:
    """Runs ffmpeg with `arguments` writing `path`; the file's bytes."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments, str(path)], check=True, timeout=120)
    return path.read_bytes()
