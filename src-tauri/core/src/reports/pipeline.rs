//! Streaming rows from PostgreSQL into a renderer, and committing its files.
//!
//! The database side runs on the async runtime: each sheet's query is one `fetch` stream,
//! decoded into typed [`Cell`]s and sent in small [`Rows`] batches over a bounded channel.
//! The renderer runs on a blocking thread (file I/O and zip compression never stall the
//! runtime), so decoding and rendering overlap. Memory stays flat: at most `QUEUE` batches
//! of at most `BATCH` rows (or about `BATCH_TEXT` bytes of text) are in flight.
//! Files are committed (renamed into place) only when both sides succeeded; on any
//! failure the renderer is dropped and its temporary files with it. This module must
//! never buffer a whole result set.
use futures::TryStreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use tokio::sync::mpsc;

use super::catalog::{Column, Kind, Sheet};
use super::render::{Cell, Rows, Sink};
use crate::error::{Error, Result};
use crate::Database;

const BATCH: usize = 512;
/// A batch is sent early once its text passes this, so a few huge cells can't hold more.
const BATCH_TEXT: usize = 1 << 20;
const QUEUE: usize = 8;

/// A filter value bound to every query of a report, in the catalog's order.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(Option<String>),
    Time(Option<chrono::DateTime<chrono::Utc>>),
    Bool(Option<bool>),
}

pub fn bind_all<'q>(mut q: Query<'q, Postgres, PgArguments>, binds: &[Bind]) -> Query<'q, Postgres, PgArguments> {
    for b in binds {
        q = match b {
            Bind::Text(v) => q.bind(v.clone()),
            Bind::Time(v) => q.bind(*v),
            Bind::Bool(v) => q.bind(*v),
        };
    }
    q
}

/// Called after each batch with the rows streamed so far (all sheets).
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

enum Msg {
    Begin(&'static Sheet),
    Rows(Rows),
    End(u64),
    Finish,
}

/// What a finished rendering wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<std::path::PathBuf>,
    pub size_bytes: u64,
    pub row_count: u64,
}

enum ProduceError {
    /// The renderer stopped taking rows: its own error says why.
    WriterStopped,
    Failed(Error),
}

impl From<Error> for ProduceError {
    fn from(e: Error) -> Self {
        ProduceError::Failed(e)
    }
}

/// Stream every sheet's rows into `sink` and commit its files.
pub async fn render(
    db: &Database,
    sheets: &[&'static Sheet],
    binds: &[Bind],
    sink: Box<dyn Sink>,
    progress: Option<Progress<'_>>,
) -> Result<Written> {
    let (tx, rx) = mpsc::channel::<Msg>(QUEUE);
    let consumer = tokio::task::spawn_blocking(move || consume(sink, rx));
    let produced = produce(db, sheets, binds, tx, progress).await;
    let consumed = consumer.await.map_err(|e| Error::internal(format!("the report writer crashed: {e}")))?;
    match (produced, consumed) {
        (Ok(row_count), Ok(files)) => {
            let mut size_bytes = 0;
            let mut paths = Vec::with_capacity(files.len());
            for f in files {
                paths.push(f.destination().to_path_buf());
                size_bytes += f.commit()?;
            }
            Ok(Written { files: paths, size_bytes, row_count })
        }
        (Err(ProduceError::Failed(e)), _) => Err(e),
        (_, Err(e)) => Err(e),
        (Err(ProduceError::WriterStopped), Ok(_)) => Err(Error::internal("the report writer stopped early")),
    }
}

fn consume(mut sink: Box<dyn Sink>, mut rx: mpsc::Receiver<Msg>) -> Result<Vec<super::atomic::AtomicFile>> {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Begin(sheet) => sink.begin_sheet(sheet)?,
            Msg::Rows(rows) => rows.try_for_each(|row| sink.row(row))?,
            Msg::End(n) => sink.end_sheet(n)?,
            Msg::Finish => return sink.finish(),
        }
    }
    // The database side gave up; its error is the one reported. Dropping the sink removes
    // its temporary files.
    Err(Error::internal("report aborted"))
}

async fn produce(
    db: &Database,
    sheets: &[&'static Sheet],
    binds: &[Bind],
    tx: mpsc::Sender<Msg>,
    progress: Option<Progress<'_>>,
) -> Result<u64, ProduceError> {
    let send = |m| {
        let tx = tx.clone();
        async move { tx.send(m).await.map_err(|_| ProduceError::WriterStopped) }
    };
    let mut total = 0u64;
    for sheet in sheets {
        send(Msg::Begin(sheet)).await?;
        let mut stream = bind_all(sqlx::query(sheet.sql), binds).fetch(db.pool());
        let width = sheet.columns.len();
        let mut batch = Rows::new(width, BATCH);
        let mut rows = 0u64;
        while let Some(row) = stream.try_next().await.map_err(|e| {
            ProduceError::Failed(Error::from(e).context(format!("reading the rows of sheet {}", sheet.name)))
        })? {
            decode(&row, sheet, &mut batch)?;
            rows += 1;
            if batch.len() == BATCH || batch.text_len() >= BATCH_TEXT {
                send(Msg::Rows(std::mem::replace(&mut batch, Rows::new(width, BATCH)))).await?;
                if let Some(p) = progress {
                    p(total + rows);
                }
            }
        }
        drop(stream);
        if !batch.is_empty() {
            send(Msg::Rows(batch)).await?;
        }
        total += rows;
        if let Some(p) = progress {
            p(total);
        }
        send(Msg::End(rows)).await?;
    }
    send(Msg::Finish).await?;
    Ok(total)
}

/// Append `row`'s cells to `batch`.
fn decode(row: &PgRow, sheet: &Sheet, batch: &mut Rows) -> Result<()> {
    if row.len() != sheet.columns.len() {
        return Err(Error::internal(format!(
            "sheet {} selects {} columns but declares {}",
            sheet.name,
            row.len(),
            sheet.columns.len()
        )));
    }
    for (i, c) in sheet.columns.iter().enumerate() {
        batch.push(cell(row, i, c)?);
    }
    Ok(())
}

fn cell<'r>(row: &'r PgRow, i: usize, c: &Column) -> Result<Cell<'r>> {
    let bad = |e: sqlx::Error| Error::internal(format!("column {} ({}): {e}", c.name, c.kind.as_str()));
    Ok(match c.kind {
        Kind::Text => row.try_get::<Option<&str>, _>(i).map_err(bad)?.map_or(Cell::Null, Cell::Text),
        Kind::Int => row.try_get::<Option<i64>, _>(i).map_err(bad)?.map_or(Cell::Null, Cell::Int),
        Kind::Float => row.try_get::<Option<f64>, _>(i).map_err(bad)?.map_or(Cell::Null, Cell::Float),
        Kind::Bool => row.try_get::<Option<bool>, _>(i).map_err(bad)?.map_or(Cell::Null, Cell::Bool),
        Kind::Time => {
            row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i).map_err(bad)?.map_or(Cell::Null, Cell::Time)
        }
    })
}
