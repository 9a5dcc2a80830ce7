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


asyncio.run(main())
