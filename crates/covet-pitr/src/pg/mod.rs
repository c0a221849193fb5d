//! PostgreSQL: base backups, WAL archiving, restore to a target.
