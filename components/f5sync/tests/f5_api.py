"""The F5 side of the integration tests: the project's mock F5, started in-process on a fixed
loopback port so tests can take it down and bring it back (with its saved configuration, or empty)."""

from pathlib import Path
from typing import Any

import httpx

from f5mock.server import ThreadedF5Mock, run_in_thread
from tests.support.ports import free_port

USERNAME, PASSWORD = "admin", "f5-sync-test"


class MockF5:
    def __init__(self, state_root: Path) -> None:
        self.port = free_port()
        self._state_root = state_root
        self._generation = 0
        self._server: ThreadedF5Mock | None = None
        self.url = f"https://127.0.0.1:{self.port}"

    def start(self, *, empty: bool = False) -> None:
        """Serves; with `empty`, from a fresh state directory (an F5 that lost its configuration)."""
        if empty:
            self._generation += 1
        state_dir = self._state_root / f"state-{self._generation}"
        self._server = run_in_thread(
            state_dir, port=self.port, username=USERNAME, password=PASSWORD, bind_virtuals_to="127.0.0.1"
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def _get(self, path: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, verify=False, auth=(USERNAME, PASSWORD), timeout=5) as client:
            response = await client.get(path)
            response.raise_for_status()
            return response.json()

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=self.url, verify=False, auth=(USERNAME, PASSWORD), timeout=5) as client:
            (await client.post(path, json=body)).raise_for_status()

    async def delete(self, path: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, verify=False, auth=(USERNAME, PASSWORD), timeout=5) as client:
            (await client.delete(path)).raise_for_status()

    async def pools(self) -> dict[str, set[str]]:
        """Full path -> member names, for every pool on the F5."""
        body = await self._get("/mgmt/tm/ltm/pool?expandSubcollections=true")
        return {
            item["fullPath"]: {member["name"] for member in item.get("membersReference", {}).get("items", [])}
            for item in body.get("items", [])
        }

    async def virtuals(self) -> dict[str, tuple[str, str]]:
        """Full path -> (destination, pool), for every virtual on the F5."""
        body = await self._get("/mgmt/tm/ltm/virtual")
        return {item["fullPath"]: (item["destination"], item.get("pool", "")) for item in body.get("items", [])}

    async def routes(self) -> dict[str, tuple[str, str]]:
        """Full path -> (network, gateway), for every static route on the F5."""
        body = await self._get("/mgmt/tm/net/route")
        return {item["fullPath"]: (item["network"], item["gw"]) for item in body.get("items", [])}
