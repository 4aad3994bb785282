"""Sitemap parsing (plain, gzipped, index; hostile XML refused) and page versions."""

from __future__ import annotations

import gzip

import pytest

from rag.site_fetch import Version, parse_sitemap
from rag.sources import SourceError

URLSET = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://x.test/a/</loc><lastmod>2024-01-02</lastmod></url><url><loc> /b/#frag </loc></url></urlset>"""


def test_urlsets_indexes_and_gzip():
    assert parse_sitemap(URLSET, "https://x.test/sitemap.xml") == (
        "urlset",
        [("https://x.test/a/", "2024-01-02"), ("https://x.test/b/", None)],
    )
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://x.test/s1.xml</loc></sitemap></sitemapindex>'
    assert parse_sitemap(gzip.compress(index), "https://x.test/i.xml.gz") == (
        "index",
        [("https://x.test/s1.xml", None)],
    )


def test_hostile_or_broken_sitemaps_are_one_line_errors():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'.encode() for p, c in zip("abcdefgh", "bcdefghi"))
        + b"]><urlset><url><loc>&i;</loc></url></urlset>"
    )
    with pytest.raises(SourceError, match="not XML"):
        parse_sitemap(bomb, "https://x.test/s.xml")
    with pytest.raises(SourceError, match="not XML"):
        parse_sitemap(b"<urlset><url>", "https://x.test/s.xml")
    with pytest.raises(SourceError, match="gzip"):
        parse_sitemap(b"\x1f\x8bnot gzip", "https://x.test/s.xml.gz")


def test_versions_round_trip_into_conditional_headers():
    version = Version('"abc"', "Tue, 14 Nov 2023 22:13:20 GMT", "2024-01-02")
    again = Version.load(version.dump())
    assert again == version
    assert again.conditions() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Tue, 14 Nov 2023 22:13:20 GMT",
    }
    assert Version.load("not json") == Version() and Version().conditions() == {}
