"""A mock F5 BIG-IP: the iControl REST subset clients use for LTM pools, members, nodes
and virtual servers, over HTTPS, with virtual servers that really forward TCP traffic.

Command line: ``f5-mock serve --listen 127.0.0.1:8443 --state-dir DIR`` (cli.py).
Container: ``components/f5mock/Dockerfile``. Design and API surface: ``docs/f5-mock.md``.
``contract`` holds what envbuilder relies on; it and this module import nothing else, so
envbuilder reads the contract without loading the server.

Python API (stable; for the f5-sync and smoke tests and anyone who needs a real mock)::

    from f5mock.server import run_in_thread

    with run_in_thread(tmp_path, monitor_interval=0.2) as f5:   # free port on 127.0.0.1
        httpx.get(f"{f5.url}/mgmt/tm/ltm/pool", auth=("admin", "admin"), verify=False)

    # or, inside an event loop:
    from f5mock.server import F5MockServer
    async with F5MockServer(tmp_path, port=0) as f5:
        ...  # f5.url, f5.port

Options (both forms): ``host`` ("127.0.0.1"), ``port`` (0: a free one), ``username`` /
``password`` ("admin"/"admin"), ``bind_virtuals_to`` (listen for every virtual on this
address instead of its destination's, e.g. "127.0.0.1" in tests or "0.0.0.0" in a
container), ``monitor_interval`` (seconds between TCP health probes, default 5).
The certificate is self-signed: clients pass ``verify=False``.
"""
