"""The database gateway: the private cluster, connections and transactions, migrations, SQL."""
