//! The shared conformance suite against MariaDB / MySQL.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use covet_adapter_mysql::MySqlAdapter;
use covet_conformance::{Backend, Capabilities, MappedType, ServerBackend, SetupOptions};
use covet_core::{Adapter, DatabaseUrl, Error, ErrorKind, Result};
use mysql_async::prelude::Queryable;

struct MariaBackend {
    adapter: Arc<MySqlAdapter>,
    admin: mysql_async::Opts,
    database: String,
    url: DatabaseUrl,
    server: DatabaseUrl,
    /// Users made by `password_login`, dropped at teardown.
    users: Mutex<Vec<String>>,
}

fn admin_opts(url: &DatabaseUrl) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(url.host())
        .tcp_port(url.port())
        .user(url.user())
        .pass(url.password().map(|p| p.expose().to_owned()))
        .prefer_socket(false)
        .into()
}

fn driver(e: mysql_async::Error) -> Error {
    Error::new(ErrorKind::Database, format!("admin connection: {e}")).with_source(e)
}

impl MariaBackend {
    async fn admin(&self) -> Result<mysql_async::Conn> {
        mysql_async::Conn::new(self.admin.clone())
            .await
            .map_err(driver)
    }
}

#[async_trait]
impl Backend for MariaBackend {
    const NAME: &'static str = "mariadb";

    fn skip_reason() -> String {
        "COVET_MYSQL_URL is not set".into()
    }

    async fn setup(options: &SetupOptions) -> Result<Option<Self>> {
        let Ok(raw) = std::env::var("COVET_MYSQL_URL") else {
            return Ok(None);
        };
        let server: DatabaseUrl = raw.parse()?;
        let admin = admin_opts(&server);
        let database = format!("covet_c_{:016x}", rand::random::<u64>());
        let mut c = mysql_async::Conn::new(admin.clone())
            .await
            .map_err(driver)?;
        c.query_drop(format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .map_err(driver)?;
        let _ = c.disconnect().await;
        let url = options.apply_to(&server.with_database(&database));
        let adapter = MySqlAdapter::connect(&url).await?;
        Ok(Some(MariaBackend {
            adapter: Arc::new(adapter),
            admin,
            database,
            url,
            server,
            users: Mutex::new(Vec::new()),
        }))
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            check_constraints: true,
            server: true,
            rejects_out_of_range: true,
            last_insert_id: true,
        }
    }

    fn column_type(&self, ty: MappedType) -> &'static str {
        match ty {
            MappedType::Bool => "BOOLEAN",
            MappedType::I16 => "SMALLINT",
            MappedType::I32 => "INT",
            MappedType::I64 => "BIGINT",
            MappedType::F32 => "FLOAT",
            MappedType::F64 => "DOUBLE",
            MappedType::Decimal => "DECIMAL(30,6)",
            MappedType::Text => "LONGTEXT",
            MappedType::Bytes => "LONGBLOB",
            MappedType::Date => "DATE",
            MappedType::Time => "TIME(6)",
            MappedType::Timestamp => "DATETIME(6)",
            // MariaDB 10.10+ defaults explicit_defaults_for_timestamp=ON, so
            // a plain TIMESTAMP is nullable.
            MappedType::TimestampTz => "TIMESTAMP(6)",
            // MariaDB's own UUID type refuses values with the NCS variant
            // (fourth group starting 0-7); the suite writes any 128 bits.
            MappedType::Uuid => "CHAR(36) CHARACTER SET ascii",
            MappedType::Json => "JSON",
        }
    }

    fn auto_id(&self) -> &'static str {
        "BIGINT AUTO_INCREMENT PRIMARY KEY"
    }

    fn slow_statement(&self, secs: f64, marker: &str) -> String {
        format!("SELECT SLEEP({secs}) AS `{marker}`")
    }

    fn series_query(&self, n: u64) -> String {
        format!(
            "SELECT seq AS i, '{pad}' AS pad FROM seq_1_to_{n}",
            pad = "x".repeat(100)
        )
    }

    async fn running_queries(&self, marker: &str) -> Result<Option<u64>> {
        let mut c = self.admin().await?;
        let n: Option<u64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID() \
                 AND COMMAND <> 'Sleep'",
                (marker,),
            )
            .await
            .map_err(driver)?;
        let _ = c.disconnect().await;
        Ok(Some(n.unwrap_or(0)))
    }

    async fn kill_connections(&self) -> Result<()> {
        let mut c = self.admin().await?;
        let ids: Vec<u64> = c
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE DB = ? AND ID <> CONNECTION_ID()",
                (&self.database,),
            )
            .await
            .map_err(driver)?;
        for id in ids {
            match c.query_drop(format!("KILL CONNECTION {id}")).await {
                Ok(()) => {}
                // ER_NO_SUCH_THREAD: it ended meanwhile.
                Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
                Err(e) => return Err(driver(e)),
            }
        }
        let _ = c.disconnect().await;
        Ok(())
    }

    async fn teardown(&self) {
        self.adapter.close().await;
        match self.admin().await {
            Ok(mut c) => {
                let users = std::mem::take(&mut *self.users.lock().unwrap());
                for user in users {
                    if let Err(e) = c
                        .query_drop(format!("DROP USER IF EXISTS '{user}'@'%'"))
                        .await
                    {
                        eprintln!("dropping user {user}: {e}");
                    }
                }
                if let Err(e) = c
                    .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.database))
                    .await
                {
                    eprintln!("dropping {}: {e}", self.database);
                }
                let _ = c.disconnect().await;
            }
            Err(e) => eprintln!("dropping {}: {e}", self.database),
        }
    }
}

#[async_trait]
impl ServerBackend for MariaBackend {
    async fn connect(url: &DatabaseUrl) -> Result<Arc<dyn Adapter>> {
        Ok(Arc::new(MySqlAdapter::connect(url).await?))
    }

    fn url(&self) -> DatabaseUrl {
        self.url.clone()
    }

    async fn password_login(&self) -> Result<DatabaseUrl> {
        // A user of its own on the shared server (never its settings),
        // dropped at teardown.
        let user = format!("covet_pw_{:012x}", rand::random::<u64>() >> 16);
        let password = format!("Pw-{:016x}", rand::random::<u64>());
        self.users.lock().unwrap().push(user.clone());
        let mut c = self.admin().await?;
        c.query_drop(format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        ))
        .await
        .map_err(driver)?;
        c.query_drop(format!(
            "GRANT ALL ON `{}`.* TO '{user}'@'%'",
            self.database
        ))
        .await
        .map_err(driver)?;
        let _ = c.disconnect().await;
        format!(
            "mysql://{user}:{password}@{}:{}/{}",
            self.server.host(),
            self.server.port(),
            self.database
        )
        .parse()
    }

    async fn change_password(&self, user: &str, new_password: &str) -> Result<()> {
        let mut c = self.admin().await?;
        c.query_drop(format!(
            "ALTER USER '{user}'@'%' IDENTIFIED BY '{new_password}'"
        ))
        .await
        .map_err(driver)?;
        let _ = c.disconnect().await;
        Ok(())
    }

    async fn tls_required_url(&self) -> Result<DatabaseUrl> {
        // The shared MariaDB has no TLS (have_ssl = DISABLED).
        Ok(self.url.with_param("sslmode", "require"))
    }
}

covet_conformance::conformance_suite!(MariaBackend);
covet_conformance::connection_failure_suite!(MariaBackend);
