"""Markdown sources laid out as real static sites publish them: Hugo sites (cds-snc/digital-canada-ca,
GSA/digitalgov.gov, okfde/codefor.de), Jekyll's permalinks and defaults, a Docusaurus blog, a Middleman
site, what Jekyll and Hugo leave unpublished, and the site's own time zone. Each fixture copies the pattern of a
real post; the expected URL is the one the site's own pages link to."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from pipelines.config import load_registry
from pipelines.errors import ConfigError
from pipelines.outcomes import FetchState
from tests.test_fast_fetch import harvest_in_memory, respond
from tests.test_fast_parsers import harvest_markdown_directory

# cds-snc/digital-canada-ca: the configuration in config/_default/, one content folder per language,
# posts named by their title (with the punctuation a title has) and dated in front matter.
CDS_CONFIG = """\
DefaultContentLanguage: en
languages:
  en:
    baseUrl: https://digital.canada.ca/
    contentDir: content/en
    permalinks:
      blog: /:year/:month/:day/:filename
  fr:
    baseUrl: https://numerique.canada.ca/
    contentDir: content/fr
    permalinks:
      blog: /:year/:month/:day/:filename
"""
# GSA/digitalgov.gov: config.yml at the root, `slug` in front matter, Hugo shortcodes in the text.
DIGITALGOV_CONFIG = """\
baseURL: "https://digital.gov"
buildFuture: true
permalinks:
  news: ":year/:month/:day/:slug/"
  events: "event/:year/:month/:day/:slug/"
"""


def post(front_matter: str, body: str = "Some text about the work.") -> str:
    return f"---\n{front_matter.strip()}\n---\n\n{body}\n"


def site(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def urls_by_title(records) -> dict[str, str]:
    return {r.title: r.url for r in records}


def test_a_hugo_sites_posts_take_its_permalink_and_file_names_are_made_into_its_paths(tmp_path):
    root = site(tmp_path / "cds", {
        "config/_default/config.yaml": CDS_CONFIG,
        "content/en/blog/_index.md": post("title: Blog"),
        "content/en/blog/posts/helping-people-find-content:-how-to-build-a-website-search-bar.md":
            post("title: 'Helping people find content: how to build a website search bar'\n"
                 "date: '2022-07-13 09:00:00 -0400'"),
        "content/en/blog/posts/CDS-gets-its-first-CEO.md":
            post("title: CDS gets its first CEO\ndate: '2018-03-09 09:00:00 -0400'"),
        "content/en/blog/posts/get-updates-on-covid-19-–-email-notification-service.md":
            post("title: Get updates on COVID-19\ndate: 2020-05-13T17:26:05.709Z"),
        "content/en/blog/posts/building-trust-and-understanding:-privacy-notices-and-usability-testing .md":
            post("title: Building trust and understanding\ndate: 2021-05-04T13:00:00.000Z"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="content/en/blog",
                                         site_url="https://digital.canada.ca/")
    assert urls_by_title(records) == {
        "Helping people find content: how to build a website search bar":
            "https://digital.canada.ca/2022/07/13/helping-people-find-content-how-to-build-a-website-search-bar/",
        "CDS gets its first CEO": "https://digital.canada.ca/2018/03/09/cds-gets-its-first-ceo/",
        "Get updates on COVID-19": "https://digital.canada.ca/2020/05/13/get-updates-on-covid-19-email-notification-service/",
        "Building trust and understanding":
            "https://digital.canada.ca/2021/05/04/building-trust-and-understanding-privacy-notices-and-usability-testing/",
    }   # the blog's _index.md is its list page, not a post


def test_a_hugo_post_is_published_at_its_slug_or_url_and_its_shortcodes_are_not_text(tmp_path):
    root = site(tmp_path / "digitalgov", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/2014/08/2014-08-13-the-api-briefing-writable-apis.md": post(
            "slug: the-api-briefing-writable-apis-the-federal-register-gov-commenting-feature\n"
            "date: 2014-08-13 11:46:28 -0400\ntitle: 'The API Briefing: Writable APIs'\nauthors:\n  - bbrantley",
            '{{< legacy-img src="2014/08/api-blocks.jpg" alt="Blocks spelling A P I." >}}\n\n'
            "Up till now, all the APIs were read-only. {{< note >}}Writable APIs are new.{{< /note >}}"),
        "content/news/2019/12/2019-12-04-typography.md": post(
            "date: 2019-12-04 09:00:00 -0500\ntitle: Typography Is Not Decoration"),
        "content/news/2020/01/moved.md": post("date: 2020-01-10\ntitle: Moved\nurl: /guides/moved-post/"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="content/news",
                                         site_url="https://digital.gov/")
    assert urls_by_title(records) == {
        "The API Briefing: Writable APIs":
            "https://digital.gov/2014/08/13/the-api-briefing-writable-apis-the-federal-register-gov-commenting-feature/",
        "Typography Is Not Decoration": "https://digital.gov/2019/12/04/typography-is-not-decoration/",
        "Moved": "https://digital.gov/guides/moved-post/",
    }
    (briefing,) = [r for r in records if r.title.startswith("The API Briefing")]
    assert briefing.author == "bbrantley"
    assert briefing.content_text.split() == "Up till now, all the APIs were read-only. Writable APIs are new.".split()


def test_a_hugo_site_configured_in_toml_with_toml_front_matter(tmp_path):
    root = site(tmp_path / "hugo", {
        "hugo.toml": 'baseURL = "https://team.example.gov/"\n[permalinks]\n  posts = "/:section/:year/:slug/"\n',
        "content/posts/first-release.md": '+++\ntitle = "Our first release"\ndate = 2023-04-05T10:00:00Z\n'
                                          'author = "Digital team"\ntags = ["opengovtech"]\n+++\n\nWe shipped it.\n',
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), site_url="https://team.example.gov/")
    assert record.title == "Our first release" and record.author == "Digital team"
    assert record.url == "https://team.example.gov/posts/2023/our-first-release/"
    assert record.published_at.isoformat() == "2023-04-05T10:00:00+00:00"
    assert "opengovtech" in record.tags and record.content_text.strip() == "We shipped it."


def test_drafts_unpublished_and_expired_posts_are_not_items_and_are_counted(tmp_path):
    next_year = date.today() + timedelta(days=365)
    root = site(tmp_path / "digitalgov", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/live.md": post(f"title: Live\ndate: 2024-01-11\nexpirydate: {next_year.isoformat()}"),
        "content/news/expired.md": post("title: Expired\ndate: 2014-01-02\nexpirydate: 2025-01-01"),
        "content/news/draft.md": post("title: Draft\ndate: 2019-12-04\ndraft: true"),
        "content/news/unpublished.md": post("title: Unpublished\ndate: 2019-12-05\npublished: false"),
    })
    outcome = harvest_in_memory(httpx.MockTransport(lambda request: httpx.Response(500)), tmp_path,
                                {"id": "site", "kind": "markdown", "directory": str(root), "path": "content/news",
                                 "site_url": "https://digital.gov/", "tagged_only": False})
    assert [r.title for r in outcome.records] == ["Live"]
    assert "3 files not published (a draft, published: false or past their expirydate)" in outcome.warning


def test_a_post_time_without_an_offset_is_in_the_sites_timezone(tmp_path):
    # surreydigitalservices.github.io: `timezone: Europe/London` in _config.yml, posts dated
    # "2016-08-04 11:54:38" (British Summer Time); a date without a time stays the day written.
    root = site(tmp_path / "surrey", {
        "_config.yml": "url: https://surreydigitalservices.github.io\ntimezone: Europe/London\n"
                       "permalink: /blog/:year/:month/:title\n",
        "_posts/2016-08-04-Improving_your_tertiary_classifications.md":
            post("title: Improving your tertiary classifications\ndate:   2016-08-04 11:54:38\nauthor: Robert Spiers"),
        "_posts/2016-01-25-planning_hub.md": post("title: Surrey Planning Hub\ndate:   2016-01-25 11:54:38"),
        "_posts/2016-09-05-Automated-map-production.md": post("title: Automated map production\ndate: 2016-09-05"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root),
                                         site_url="https://surreydigitalservices.github.io/")
    published = {r.title: r.published_at.isoformat() for r in records}
    assert published == {"Improving your tertiary classifications": "2016-08-04T10:54:38+00:00",
                         "Surrey Planning Hub": "2016-01-25T11:54:38+00:00",
                         "Automated map production": "2016-09-05T00:00:00+00:00"}
    assert "https://surreydigitalservices.github.io/blog/2016/08/Improving_your_tertiary_classifications" in \
        urls_by_title(records).values()


def test_a_post_published_elsewhere_is_the_item_at_its_original_address(tmp_path):
    # GSA/digitalgov.gov re-shares other agencies' posts: `source_url` ("Originally published at"),
    # and its page for one redirects there. Jekyll sites say the same with jekyll-seo-tag's
    # `canonical_url` or jekyll-redirect-from's `redirect_to`.
    original = "https://records-express.blogs.archives.gov/2020/10/21/transition-post-3-managing-official-email/"
    root = site(tmp_path / "digitalgov", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/2020/12/2020-12-30-transition-post-3.md": post(
            f"# Originally published at the following URL\nsource_url: {original}\nsource: nara\n"
            "date: 2020-10-21 19:58:00 -0500\ntitle: 'Transition Post 3: Managing Official Email'\n"
            "slug: transition-post-3-managing-official-email"),
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), path="content/news",
                                           site_url="https://digital.gov/")
    assert record.url == original
    assert json.loads(record.details)["page_url"] == \
        "https://digital.gov/2020/10/21/transition-post-3-managing-official-email/"

    jekyll = site(tmp_path / "jekyll", {
        "_config.yml": "permalink: /blog/:year/:month/:title\n",
        "_posts/2021-03-01-cross-posted.md": post("title: Cross-posted\ncanonical_url: https://medium.com/@team/cross-posted-1a2b"),
        "_posts/2021-04-01-moved.md": post("title: Moved\nredirect_to: /blog/2021/05/moved-again"),
    })
    urls = urls_by_title(harvest_markdown_directory(tmp_path, directory=str(jekyll), site_url="https://team.example.gov/"))
    assert urls == {"Cross-posted": "https://medium.com/@team/cross-posted-1a2b",
                    "Moved": "https://team.example.gov/blog/2021/05/moved-again"}


def test_two_posts_of_one_site_resharing_one_original_stay_two_items_at_their_own_pages(tmp_path):
    # GSA/digitalgov.gov re-shared three originals twice each; distinct entries of one source are
    # never merged (README, Identity), so neither takes the shared address.
    original = "https://www.example.gov/2024/07/09/engineering-craft-at-10/"
    root = site(tmp_path / "digitalgov", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/2024/07/2024-07-10-engineering-craft-at-10.md": post(
            f"source_url: {original}\ndate: 2024-07-09 10:00:00 -0400\ntitle: Engineering craft at 10"),
        "content/news/2024/07/2024-07-10-the-engineering-craft-at-10.md": post(
            f"source_url: {original}\ndate: 2024-07-09 10:00:00 -0400\ntitle: The engineering craft at 10"),
        "content/news/2024/08/2024-08-01-other.md": post(
            "source_url: https://www.example.gov/other/\ndate: 2024-08-01\ntitle: Other"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="content/news",
                                         site_url="https://digital.gov/")
    assert urls_by_title(records) == {
        "Engineering craft at 10": "https://digital.gov/2024/07/09/engineering-craft-at-10/",
        "The engineering craft at 10": "https://digital.gov/2024/07/09/the-engineering-craft-at-10/",
        "Other": "https://www.example.gov/other/",
    }
    assert len({r.item_id for r in records}) == 3


def test_a_hugo_sites_titles_and_summaries_are_markdown_shown_as_their_text(tmp_path):
    # Both audited Hugo sites pass titles and summaries through `markdownify` in their templates.
    root = site(tmp_path / "hugo", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/2020/12/transition-post-3.md": post(
            "date: 2020-10-21\ntitle: Let’s talk **user** experience\n"
            "summary: '**Transition Post 3: Managing Official Email**&mdash;As part of their "
            "[transition series](https://www.archives.gov/records-mgmt), this third post…'"),
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), path="content/news",
                                           site_url="https://digital.gov/")
    assert record.title == "Let’s talk user experience"
    assert record.summary == "Transition Post 3: Managing Official Email—As part of their transition series, this third post…"


def test_a_hugo_sites_repository_is_read_as_its_directory_and_its_configuration_only_when_changed(
        tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", "https://github.example")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    files = {"config/_default/config.yaml": CDS_CONFIG,
             "content/en/blog/_index.md": post("title: Blog"),
             "content/en/blog/posts/CDS-gets-its-first-CEO.md":
                 post("title: CDS gets its first CEO\ndate: '2018-03-09 09:00:00 -0400'"),
             "content/fr/blog/posts/le-SNC-a-son-premier-PDG.md":
                 post("title: Le SNC a son premier PDG\ndate: '2018-03-09 09:00:00 -0400'"),
             "README.md": "# digital.canada.ca\n"}
    requested: list[str] = []

    def github(request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path)
        requested.append(path)
        if path == "/repos/cds-snc/digital-canada-ca":
            return respond(200, json.dumps({"default_branch": "main"}), content_type="application/json")
        if path == "/repos/cds-snc/digital-canada-ca/git/trees/main":
            return respond(200, json.dumps({"tree": [
                {"path": p, "type": "blob", "size": len(t), "sha": hashlib.sha1(t.encode()).hexdigest()}
                for p, t in files.items()]}), content_type="application/json")
        name = path.removeprefix("/repos/cds-snc/digital-canada-ca/contents/")
        return respond(200, files[name].encode(), content_type="application/vnd.github.raw") if name in files \
            else respond(404)

    source = {"id": "cds", "kind": "markdown", "repo": "cds-snc/digital-canada-ca",
              "site_url": "https://digital.canada.ca/", "tagged_only": False}
    outcome = harvest_in_memory(httpx.MockTransport(github), tmp_path, source)
    assert {r.url: r.language for r in outcome.records} == {
        "https://digital.canada.ca/2018/03/09/cds-gets-its-first-ceo/": "en",
        "https://numerique.canada.ca/2018/03/09/le-snc-a-son-premier-pdg/": "fr"}   # the language's own host
    files["content/en/blog/posts/CDS-gets-its-first-CEO.md"] += "\nEdited.\n"
    requested.clear()
    again = harvest_in_memory(httpx.MockTransport(github), tmp_path, source,
                              FetchState(validators={}, feed_urls={}, source_state={"cds": outcome.state}))
    assert [r.title for r in again.records] == ["CDS gets its first CEO"]
    assert not any(p.endswith("config.yaml") for p in requested)   # its blob is unchanged


def test_hugo_shortcodes_with_percent_delimiters_leave_no_template_behind(tmp_path):
    # digital.canada.ca's roadmap wraps its text in {{% roadmap/div … %}} … {{% /roadmap/div %}}.
    root = site(tmp_path / "hugo", {
        "config.yml": DIGITALGOV_CONFIG,
        "content/news/2015/08/journey-mapping.md": post(
            "date: 2015-08-12\ntitle: Journey mapping",
            '{{% roadmap/div class="no-page-break" %}}\nWe recently updated USA.gov’s personas '
            '{{< legacy-img src="2015/08/personas.jpg" >}}and used them.\n{{% /roadmap/div %}}'),
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), path="content/news",
                                           site_url="https://digital.gov/")
    assert record.content_text.split() == "We recently updated USA.gov’s personas and used them.".split()


def test_a_sites_own_yaml_tags_in_front_matter_are_read_as_their_values(tmp_path):
    # CivicActions/civicactions.com's case studies mark Markdown values `!md |` for their CMS; the
    # file used to fail as a YAML error and its item was lost. sources.yaml still refuses such tags.
    root = site(tmp_path / "civicactions", {"case-studies/mvp.md": post(
        'title: "Building an MVP with human centered design"\n'
        "challenge_text: !md |\n  The agency launched a design challenge.\n"
        "figures: !list\n  - header: 8\n    text: days to complete")})
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root))
    assert record.title == "Building an MVP with human centered design"
    assert json.loads(record.raw_json)["front_matter"]["challenge_text"] == "The agency launched a design challenge.\n"
    # A tagged plain value keeps its YAML type: a draft marked `!x true` is still a draft.
    drafts = site(tmp_path / "drafts", {"posts/a.md": post("title: A\ndraft: !flag true"),
                                         "posts/b.md": post("title: B\ndraft: !flag false")})
    assert [r.title for r in harvest_markdown_directory(tmp_path, directory=str(drafts))] == ["B"]

    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - id: x\n    kind: feed\n    url: !md https://example.org/feed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="could not determine a constructor for the tag '!md'"):
        load_registry(sources)


def test_a_jekyll_sites_named_permalink_style_and_collections_dir_give_its_posts_addresses(tmp_path):
    # betagouv/blog.beta.gouv.fr: `permalink: pretty` and its posts in content/_posts (collections_dir);
    # its pages link to /general/2017/03/22/intrapreneurs-comment-les-trouver/ (the named style used
    # to fall back to Jekyll's date style, …/intrapreneurs-comment-les-trouver.html).
    root = site(tmp_path / "beta", {
        "_config.yml": 'baseurl: ""\nurl: ""\npermalink: pretty\ncollections_dir: content\n',
        "content/_posts/2017-03-22-intrapreneurs-comment-les-trouver.md": post(
            "layout: post\ntitle: \"Intrapreneurs de Startups d'État, comment les trouver ?\"\n"
            "date: 2017-03-22\nauthors:\n  - ismael.hery\ncategories: general"),
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), path="content/_posts",
                                           site_url="https://blog.beta.gouv.fr/")
    assert record.url == "https://blog.beta.gouv.fr/general/2017/03/22/intrapreneurs-comment-les-trouver/"


def test_a_jekyll_sites_posts_folder_read_alone_takes_the_sites_permalink(tmp_path):
    # uswds/uswds-site read with `path: _posts`: its _config.yml (one folder up) was not read, so
    # posts took Jekyll's default pattern; its posts link to /whats-new/updates/2017/03/21/…/.
    root = site(tmp_path / "uswds", {
        "_config.yml": "permalink: /whats-new/updates/:year/:month/:day/:title/\n",
        "_posts/2017-03-21-nasa-journey-with-us-web-design-standards.md": post(
            "title: NASA's journey with the U.S. Web Design Standards\ndate: 2017-03-21"),
        "index.md": post("title: Home"),
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), path="_posts",
                                           site_url="https://designsystem.digital.gov/")
    assert record.url == \
        "https://designsystem.digital.gov/whats-new/updates/2017/03/21/nasa-journey-with-us-web-design-standards/"


def test_jekyll_front_matter_defaults_and_a_collections_default_permalink_apply(tmp_path):
    # open-austin/open-austin.github.io sets its posts' permalink in `defaults` (scope type: posts)
    # and its posts link to /blog/2016/06/12/…; its `projects` collection has no permalink, so
    # Jekyll publishes /projects/lobbying-in-austin.html, as its posts link to it.
    root = site(tmp_path / "austin", {
        "_config.yml": 'url: "http://open-austin.github.io/"\ncollections:\n  projects:\n    output: true\n'
                       'defaults:\n  - scope:\n      path: ""\n      type: projects\n    values:\n      layout: project\n'
                       '  - scope:\n      path: ""\n      type: posts\n    values:\n'
                       '      permalink: /blog/:year/:month/:day/:title\n',
        "_posts/2016-06-12-finding-a-story-in-austins-lobbying-data.md": post(
            "layout: post\ntitle: Finding a Story in Austin's Lobbying Data\ndate: 2016-06-12\npublished: true"),
        "_projects/lobbying-in-austin.md": post(
            "title:        Lobbying in Austin\ndescription:  An experiment with data visualization"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), site_url="https://www.open-austin.org/")
    assert urls_by_title(records) == {
        "Finding a Story in Austin's Lobbying Data":
            "https://www.open-austin.org/blog/2016/06/12/finding-a-story-in-austins-lobbying-data",
        "Lobbying in Austin": "https://www.open-austin.org/projects/lobbying-in-austin.html",
    }


def test_a_jekyll_sites_html_posts_are_items_with_their_html_as_written(tmp_path):
    # Chicago/digital.chicago.gov: a WordPress import left many of its posts as .html files in _posts,
    # which Jekyll publishes like the Markdown ones; they were not read.
    root = site(tmp_path / "chicago", {
        "_config.yml": 'url: "https://digital.chicago.gov"\nbaseurl: ""\n',
        "_posts/2014-05-16-building-permits-not-updating.html": post(
            "layout: post\ntitle: Building Permits not updating\ndate: '2014-05-16T13:12:00-05:00'\n"
            "author: Open Data Portal Team\ncategories:\n- Open Data\n- Data Portal",
            "<p>The building permits dataset has not successfully updated since May 14.</p>\n\n"
            "    <p>Our team is looking at the issue.</p>"),
        "_includes/footer.html": "<footer>Not a post</footer>\n",
    })
    (record,) = harvest_markdown_directory(tmp_path, directory=str(root), site_url="https://digital.chicago.gov/")
    assert record.title == "Building Permits not updating"
    assert record.url == "https://digital.chicago.gov/open-data/data-portal/2014/05/16/building-permits-not-updating.html"
    # HTML is not Markdown: an indented paragraph is no code block.
    assert "<code>" not in record.content_html and "Our team is looking at the issue." in record.content_text


def test_a_hugo_site_dating_pages_by_file_name_publishes_them_without_the_date(tmp_path):
    # okfde/codefor.de: `frontmatter: {date: [":filename", ":default"]}`, so Hugo takes the date off
    # 2020-02-19-Code-For-Climate-Open-Data-Day.md and its posts link to /blog/code-for-climate-open-data-day/.
    root = site(tmp_path / "codefor", {
        "config.yaml": "baseURL: https://codefor.de\nlanguageCode: de-DE\n"
                       'frontmatter:\n  date: [":filename", ":default"]\npermalinks:\n  labs: "/:filename"\n',
        "content/blog/2020-02-19-Code-For-Climate-Open-Data-Day.md": post(
            'type: blog\ntitle: "Code for Climate: Open Data Day am 7. März 2020"\nauthor: Claudia Jach'),
        "content/blog/2021-05-04-mit-slug.md": post("title: Mit Slug\nslug: eigener-slug"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="content/blog",
                                         site_url="https://codefor.de/")
    assert urls_by_title(records) == {
        "Code for Climate: Open Data Day am 7. März 2020": "https://codefor.de/blog/code-for-climate-open-data-day/",
        "Mit Slug": "https://codefor.de/blog/eigener-slug/",
    }
    assert {r.title: r.published_at.date().isoformat() for r in records}["Mit Slug"] == "2021-05-04"


def test_a_docusaurus_blogs_posts_are_dated_and_addressed_by_their_file_names(tmp_path):
    # developer-overheid-nl/don-site: docusaurus.config.ts, posts as blog/2023/11/28-title.md with no
    # date in front matter; its pages link to /blog/2026/07/30/graphql-1-introductie and (the day as
    # written) /blog/2026/07/2/tools-in-the-loop. They were dated nowhere and addressed by file.
    root = site(tmp_path / "don", {
        "docusaurus.config.ts": "export default {title: 'developer.overheid.nl'};\n",
        "blog/2026/07/30-graphql-1-introductie.md": post("authors: [joost-farla]\ntags: [graphql]",
                                                         "# GraphQL, een introductie\n\nWat is GraphQL?"),
        "blog/2026/07/2-tools-in-the-loop.md": post("authors: [dimitri-van-hees]\ntags:\n  - ai",
                                                    "# Tools in the loop\n\nValidators en generators."),
        "blog/2024-02-01-eigen-slug.md": post("title: Eigen slug\nslug: /mijn-post"),
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="blog",
                                         site_url="https://developer.overheid.nl/")
    assert urls_by_title(records) == {
        "GraphQL, een introductie": "https://developer.overheid.nl/blog/2026/07/30/graphql-1-introductie",
        "Tools in the loop": "https://developer.overheid.nl/blog/2026/07/2/tools-in-the-loop",
        "Eigen slug": "https://developer.overheid.nl/blog/mijn-post",
    }
    assert {r.title: r.published_at.date().isoformat() for r in records} == {
        "GraphQL, een introductie": "2026-07-30", "Tools in the loop": "2026-07-02", "Eigen slug": "2024-02-01"}


def test_a_middleman_sites_erb_markdown_pages_are_read_at_their_html_addresses(tmp_path):
    # alphagov/gds-way (GOV.UK's tech-docs-template on Middleman): config.rb, pages in source/ named
    # logging.html.md.erb, headed `# <%= current_page.data.title %>`; its pages link to
    # /standards/logging.html. They were not read at all.
    root = site(tmp_path / "gds-way", {
        "config.rb": "require 'govuk_tech_docs'\nGovukTechDocs.configure(self)\n",
        "Gemfile": "gem 'govuk_tech_docs'\n",
        "source/standards/logging.html.md.erb": post(
            "title: How to store and query logs\nlast_reviewed_on: 2024-10-21\nreview_in: 6 months",
            "# <%= current_page.data.title %>\n\nYou should store logs to detect any potential errors."),
        "source/index.html.md.erb": post(
            "layout: core\ntitle: The GDS Way",
            "<% content_for :sidebar do %>\n<ul>\n    <li><a href='#the-gds-way'>The GDS Way</a>\n"
            "        <%= partial 'partials/nav-software-development' %>\n    </li>\n</ul>\n<% end %>\n\n"
            "The GDS Way documents the specific technology, tools and processes that GDS teams use."),
        "source/partials/_nav-software-development.html.erb": "<ul><li>Not a page</li></ul>\n",
        "README.md": "# The GDS Way\n",
    })
    records = harvest_markdown_directory(tmp_path, directory=str(root), path="source",
                                         site_url="https://gds-way.digital.cabinet-office.gov.uk/")
    assert urls_by_title(records) == {
        "How to store and query logs": "https://gds-way.digital.cabinet-office.gov.uk/standards/logging.html",
        "The GDS Way": "https://gds-way.digital.cabinet-office.gov.uk/",
    }
    texts = {r.title: " ".join(r.content_text.split()) for r in records}
    assert texts == {"How to store and query logs": "You should store logs to detect any potential errors.",
                     "The GDS Way": "The GDS Way documents the specific technology, tools and processes that GDS teams use."}
