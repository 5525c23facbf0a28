"""What the rest of envbuilder agrees on with the mock F5's process: the variables it reads.

No third-party imports: the desired-state code imports this module without pulling in the server.
"""

from typing import Final

USERNAME_VARIABLE: Final = "F5MOCK_USERNAME"
# The password comes from a file (a container's secret file) or, for local runs, a variable: never argv.
PASSWORD_FILE_VARIABLE: Final = "F5MOCK_PASSWORD_FILE"
PASSWORD_VARIABLE: Final = "F5MOCK_PASSWORD"
# With an AS number, the mock learns routes over BGP (bgp.py); the listen address is HOST:PORT.
BGP_ASN_VARIABLE: Final = "F5MOCK_BGP_ASN"
BGP_LISTEN_VARIABLE: Final = "F5MOCK_BGP_LISTEN"
# Who may peer: comma-separated addresses, networks or host names (the kind nodes' container names).
BGP_PEERS_VARIABLE: Final = "F5MOCK_BGP_PEERS"
