"""FastMCP's client (fastmcp 4.x): the header on StreamableHttpTransport. call_tool raises ToolError
carrying the server's message (raise_on_error, the default)."""
import asyncio
import json
import os

from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError


async def main() -> None:
    url, token, email = os.environ["MCP_URL"], os.environ["MCP_TOKEN"], os.environ["EMAIL"]
    transport = StreamableHttpTransport(url, headers={"Authorization": f"Bearer {token}"})
    async with Client(transport) as client:
        tools = await client.list_tools()
        print(json.dumps({"step": "tools", "tools": [t.name for t in tools]}), flush=True)
        args = {"email": email, "role": "member", "workspaces": []}
        ok = await client.call_tool("invite_user", args)
        print(json.dumps({"step": "invite", "invite_id": (ok.structured_content or {}).get("invite_id")}), flush=True)
        try:
            await client.call_tool("invite_user", args)
            print(json.dumps({"step": "again", "isError": False}), flush=True)
        except ToolError as err:
            print(json.dumps({"step": "again", "isError": True, "message": str(err)}), flush=True)


asyncio.run(main())
