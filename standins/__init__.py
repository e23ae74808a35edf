"""Local stand-ins for the production infrastructure, for tests, benchmarks and simulations.

Production runs on PostgreSQL and MinIO (`docker-compose.yml`). A run on one machine needs its
own scratch database on the local PostgreSQL server (`postgres`) and an S3 server that speaks
MinIO's protocol (`s3`: moto's, served by `moto_server`), on a free loopback port (`ports`).
Nothing in `services/` or `shared/` imports this package.
"""
