//! PostgreSQL: each service owns one schema, migrated with its own migrations table, and
//! talks to it through a role that can use only that schema.
//!
//! Set-up runs over the administrative URL: it creates the role `gridloop_<service>` and the
//! schema `<service>` (owned by the administrator, so the service role cannot drop tables or
//! triggers), applies the platform's tables and then the service's migrations, and hands back
//! a pool that logs in as the service role with `search_path` set to the schema. Migrations
//! may `REVOKE` rights from the role (the closure ledger is append-only that way).

use std::str::FromStr;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::{Config, Error};

static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Name of the role a service's pool logs in as.
pub fn role_name(service: &str) -> String {
    format!("gridloop_{service}")
}

/// Service names become SQL identifiers, so only plain lowercase names are allowed.
fn check_ident(service: &str) -> Result<(), Error> {
    let ok = !service.is_empty()
        && service.len() <= 40
        && service.starts_with(|c: char| c.is_ascii_lowercase())
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "service name {service:?} is not a plain identifier"
        )))
    }
}

/// Creates the service's role and schema, runs the platform's and the service's migrations,
/// and returns the service's pool. Safe to run concurrently from several replicas.
pub async fn setup(cfg: &Config, migrator: &Migrator) -> Result<PgPool, Error> {
    let schema = cfg.service.as_str();
    check_ident(schema)?;
    let role = role_name(schema);
    let admin_opts = PgConnectOptions::from_str(cfg.database_url.expose_secret())?;
    let mut admin = PgConnection::connect_with(&admin_opts).await?;

    // Roles are cluster-wide: replicas (or tests in other databases) may race to create it;
    // the loser's duplicate error means the role is there, which is all we need.
    let created = admin
        .execute(ddl(format!("CREATE ROLE {role} LOGIN")))
        .await;
    ignore_codes(created, &["42710", "23505"])?;
    let created = admin
        .execute(ddl(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
        .await;
    ignore_codes(created, &["42P06", "23505"])?;
    for stmt in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} \
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        ),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}"
        ),
        format!("SET search_path TO {schema}"),
    ] {
        let done = admin.execute(ddl(stmt)).await;
        // Concurrent GRANTs on the same catalogue row report "tuple concurrently updated".
        ignore_codes(done, &["XX000"])?;
    }

    let mut platform = Migrator::with_migrations(PLATFORM_MIGRATIONS.iter().cloned().collect());
    platform.dangerous_set_table_name("_platform_migrations");
    platform.run(&mut admin).await?;
    migrator.run(&mut admin).await?;
    admin.close().await?;

    let opts = admin_opts
        .username(&role)
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(cfg.db_max_connections)
        // The default pings every connection on every acquire: one more round trip for each
        // request and each transaction, paid mostly by connections in constant use. Only one
        // idle for a while (a restart or a dropped link is more likely to have broken it) is
        // checked first; a connection that breaks in use fails that one call and is dropped.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(opts)
        .await?;
    Ok(pool)
}

/// How long a pooled connection may sit idle before it is pinged on its way out.
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// DDL cannot take bind parameters; identifiers in it come from [`check_ident`]-checked names.
fn ddl(sql: String) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
}

fn ignore_codes(
    result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>,
    codes: &[&str],
) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db))
            if db.code().is_some_and(|c| codes.contains(&c.as_ref())) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_must_be_identifiers() {
        assert!(check_ident("intake").is_ok());
        assert!(check_ident("bench_1").is_ok());
        assert!(check_ident("Intake").is_err());
        assert!(check_ident("x; DROP TABLE y").is_err());
        assert!(check_ident("").is_err());
    }
}
