"""`docsdesk sources` as a real process against a local docs site: add, sync (one-line
summary), list (last sync, counts, failures), and one-line errors."""

from __future__ import annotations

from tests.docsdesk.cli.test_cli import run_cli
from tests.support import new_id
from tests.support.docs_site import DocsSite, generated_site


def test_sources_add_sync_and_list(database, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    name, collection = new_id("site"), new_id("c")
    robots = "User-agent: *\nDisallow: /docs/page-2/\n"
    with DocsSite(generated_site(3), robots=robots) as site:
        added = run_cli(
            "sources",
            "add",
            name,
            "--sitemap",
            f"{site.origin}/sitemap.xml",
            "--collection",
            collection,
            **env,
        )
        assert added.returncode == 0, added.stderr
        assert f"feeding collection '{collection}'" in added.stdout

        synced = run_cli("sources", "sync", name, **env)
        assert synced.returncode == 0, synced.stderr
        assert (
            f"synced source '{name}': 3 fetched, 0 unchanged, 3 added, 0 changed, 0 removed, 0 failed, 1 skipped"
            in synced.stdout
        )
        assert f"skipped {site.origin}/docs/page-2/: disallowed by robots.txt" in synced.stdout

        site.redirects["/docs/page-1/"] = "https://elsewhere.example/"
        again = run_cli("sources", "sync", name, **env)
        assert "0 fetched, 2 unchanged, 0 added, 0 changed, 1 removed, 1 failed, 1 skipped" in again.stdout, (
            again.stderr
        )
        assert "redirects off the site to https://elsewhere.example/ (not followed)" in again.stdout

    # Wide enough that other tests' sources in the same database never wrap a row.
    listed = run_cli("sources", **env, COLUMNS="400")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if name in line and collection in line)
    assert "sitemap http://127.0.0.1" in row and "UTC" in row
    assert "not followed" in listed.stdout
    assert (
        f"{name}: skipped http://127.0.0.1" in listed.stdout and "disallowed by robots.txt" in listed.stdout
    )
    assert row.split("│")[10].strip() == "1" and row.split("│")[11].strip() == "1"  # failed, skipped

    duplicate = run_cli("sources", "add", name, "--crawl", "https://docs.example.test/", **env)
    assert (
        duplicate.returncode == 1
        and "already exists" in duplicate.stderr
        and "Traceback" not in duplicate.stderr
    )
    missing = run_cli("sources", "sync", "no-such-source", **env)
    assert missing.returncode == 1 and "no source named 'no-such-source'" in missing.stderr
    removed = run_cli("sources", "remove", name, **env)
    assert removed.returncode == 0 and f"removed source '{name}' and its 2 documents" in removed.stdout
    assert name not in run_cli("sources", **env).stdout
    bad = run_cli("sources", "add", new_id("g"), "--git", str(tmp_path), "--ref=-x", **env)
    assert bad.returncode == 1 and "git ref" in bad.stderr
