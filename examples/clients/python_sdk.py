"""The official Python SDK (mcp 2.x): Client over streamable_http_client, the bearer header on an
httpx2.AsyncClient. A tool error comes back as a result with is_error set.
MCP_MODE: "auto" (the default: probes server/discover, falls back to initialize) or "legacy"."""
import asyncio
import json
import os

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main() -> None:
    url, token, email = os.environ["MCP_URL"], os.environ["MCP_TOKEN"], os.environ["EMAIL"]
    mode = os.environ.get("MCP_MODE", "auto")
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        # The transport is the (not yet entered) streamable_http_client: Client enters it.
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            print(json.dumps({"step": "tools", "tools": [t.name for t in tools.tools]}), flush=True)
            args = {"email": email, "role": "member", "workspaces": []}
            ok = await client.call_tool("invite_user", args)
            print(json.dumps({"step": "invite", "invite_id": (ok.structured_content or {}).get("invite_id")}), flush=True)
            again = await client.call_tool("invite_user", args)
            print(json.dumps({"step": "again", "isError": again.is_error, "message": again.content[0].text}), flush=True)
            # The rest of an invite's life: find it, then cancel it (where the operator exposes cancel_invite).
            listed = await client.call_tool("list_invites", {"email": email})
            found = (listed.structured_content or {}).get("invites", [])
            print(json.dumps({"step": "list", "invite_ids": [i["invite_id"] for i in found], "left_out": (listed.structured_content or {}).get("left_out")}), flush=True)
            cancelled = await client.call_tool("cancel_invite", {"invite_id": found[0]["invite_id"] if found else ""})
            print(json.dumps({"step": "cancel", "isError": bool(cancelled.is_error), "status": (cancelled.structured_content or {}).get("status")}), flush=True)


asyncio.run(main())
