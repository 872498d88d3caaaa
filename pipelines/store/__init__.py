"""The DuckDB warehouse: connections, migrations, the run lock, batched writes, landing files."""
