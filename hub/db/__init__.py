"""Database access: engine, core tables, migrations, batched writes."""
