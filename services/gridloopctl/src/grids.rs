//! Routing's grid commands: `grid import` (a whole tree from a JSON or CSV file, sent as
//! UpsertGrid batches) and `grid list`.

use gridloop_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{GridCmd, GridFormat};
use crate::client::Ctx;
use crate::enum_name;
use crate::error::{CtlError, CtlResult};
use crate::gridfile::{self, GridRow};
use crate::output::{Table, opt_str, with_more};
use crate::pager::pages;
use crate::timefmt::json_ts;

pub async fn grid(ctx: &Ctx, cmd: GridCmd) -> CtlResult {
    match cmd {
        GridCmd::Import {
            file,
            format,
            batch,
            dry_run,
        } => import(ctx, &file, format, batch as usize, dry_run).await,
        GridCmd::List {
            root,
            depth,
            level,
            page,
        } => {
            let c = ctx.routing()?;
            let conn = &c;
            let level = level.map_or(pb::GridLevel::Unspecified, |l| l.proto()) as i32;
            let (grids, more) = pages(page.limit, |page_token, page_size| {
                let mut client = conn.client.clone();
                let req = pb::ListGridsRequest {
                    root_code: root.clone(),
                    max_depth: depth,
                    level,
                    page_size,
                    page_token,
                };
                async move {
                    let r = client
                        .list_grids(req)
                        .await
                        .map_err(|s| conn.err(s))?
                        .into_inner();
                    Ok((r.grids, r.next_page_token))
                }
            })
            .await?;
            let view = json!({"grids": grids.iter().map(grid_view).collect::<Vec<_>>(), "truncated": more});
            ctx.out.emit(&view, || {
                let mut t = Table::new(&["CODE", "NAME", "LEVEL", "PARENT", "ALIASES"]);
                for g in &grids {
                    t.row(vec![
                        g.code.clone(),
                        g.name.clone(),
                        enum_name!(GridLevel, g.level, "GRID_LEVEL_"),
                        g.parent_code.clone(),
                        g.aliases.join(","),
                    ]);
                }
                with_more(t.render(), more)
            });
            Ok(())
        }
    }
}

async fn import(
    ctx: &Ctx,
    file: &str,
    format: Option<GridFormat>,
    batch: usize,
    dry_run: bool,
) -> CtlResult {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CtlError::local(format!("reading stdin: {e}")))?
    } else {
        std::fs::read_to_string(file).map_err(|e| CtlError::local(format!("{file}: {e}")))?
    };
    let format = match format {
        Some(f) => f,
        None if file.to_ascii_lowercase().ends_with(".csv") => GridFormat::Csv,
        None if file.to_ascii_lowercase().ends_with(".json") => GridFormat::Json,
        None => {
            return Err(CtlError::usage(format!(
                "{file}: say --format json or --format csv"
            )));
        }
    };
    let rows: Vec<GridRow> = match format {
        GridFormat::Json => gridfile::parse_json(&text),
        GridFormat::Csv => gridfile::parse_csv(&text),
    }
    .map_err(|e| CtlError::usage(format!("{file}: {e}")))?;
    let batches = rows.len().div_ceil(batch);
    let (mut created, mut updated) = (0u32, 0u32);
    if !dry_run {
        let mut c = ctx.routing()?;
        for (n, chunk) in rows.chunks(batch).enumerate() {
            let req = pb::UpsertGridRequest {
                grids: chunk.iter().map(GridRow::proto).collect(),
            };
            match c.client.upsert_grid(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    created += r.created;
                    updated += r.updated;
                }
                Err(status) => {
                    // Earlier batches are committed; say exactly which grids the field
                    // indexes (grids[i]) of the error refer to.
                    if n > 0 {
                        eprintln!(
                            "note: batches 1..{n} ({} grids) are stored; batch {}/{batches} was not",
                            n * batch,
                            n + 1
                        );
                    }
                    if status.code() == tonic::Code::InvalidArgument {
                        eprintln!(
                            "note: grids[i] counts from grid {} of the file in import order \
                             (parents first)",
                            n * batch + 1
                        );
                    }
                    return Err(c.err(status));
                }
            }
        }
    }
    let view = json!({"grids": rows.len(), "batches": batches, "created": created, "updated": updated, "dry_run": dry_run});
    ctx.out.emit(&view, || {
        if dry_run {
            format!(
                "{} grids in {batches} batches would be sent (dry run)",
                rows.len()
            )
        } else {
            format!(
                "imported {} grids in {batches} batches: {created} created, {updated} updated",
                rows.len()
            )
        }
    });
    Ok(())
}

fn grid_view(g: &pb::Grid) -> Value {
    json!({
        "code": g.code,
        "name": g.name,
        "level": enum_name!(GridLevel, g.level, "GRID_LEVEL_"),
        "parent_code": opt_str(&g.parent_code),
        "aliases": g.aliases,
        "boundary": g.boundary.as_ref().map(|b| b.points.iter().map(|p| [p.lat, p.lng]).collect::<Vec<_>>()),
        "updated_at": json_ts(g.updated_at.as_ref()),
    })
}
