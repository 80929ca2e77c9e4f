#!/usr/bin/env python3
"""Writes the tiny country database the ip_policy tests read.

Output: crates/sori-server/tests/data/test-country.mmdb (a few hundred bytes,
committed, so the tests need no Python). Rerun only to change the mapping:

    python3 -m venv /tmp/mmdb && /tmp/mmdb/bin/pip install mmdb-writer
    /tmp/mmdb/bin/python scripts/make-test-mmdb.py

The records have the shape of GeoLite2-Country and of the CC0
geo-whois-asn-country database ({"country": {"iso_code": "KR"}}), which is
all the server reads. 3.0.0.0/24 has a record with no country (as real
databases have for anycast and satellite ranges); every other address has no
record at all.
"""

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

OUT = Path(__file__).resolve().parent.parent / "crates/sori-server/tests/data/test-country.mmdb"

NETWORKS = [
    ("1.0.0.0/24", {"country": {"iso_code": "KR"}}),
    ("2.0.0.0/24", {"country": {"iso_code": "US"}}),
    ("3.0.0.0/24", {"continent": {"code": "EU"}}),
    ("2001:db8::/32", {"country": {"iso_code": "JP"}}),
]


def main() -> None:
    # An IPv6 tree with the IPv4 space at ::/96, as the real databases are
    # laid out; the reader maps IPv4 lookups there itself.
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="Sori-Test-Country",
        languages=["en"],
        description={"en": "Sori test fixture: a handful of networks"},
    )
    for cidr, record in NETWORKS:
        writer.insert_network(IPSet([cidr]), record)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(OUT))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
