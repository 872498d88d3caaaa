"""OpenGovTech Hub: harvest #OpenGovTech stories, techniques and assets into DuckDB."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/odileeds/OpenGovTech"
