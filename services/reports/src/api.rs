//! The gRPC handlers: check the caller's role and scope, parse the request into domain
//! values, roll up, answer.

use std::pin::Pin;

use gridloop_platform::ApiError;
use gridloop_platform::auth::Caller;
use gridloop_proto::v1 as pb;
use pb::report_service_server::ReportService;
use pb::{RankBy, ReportDimension};
use sqlx::PgPool;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::domain::{self, Filter};
use crate::{csv, report};

/// The reports gRPC service.
pub struct Reports {
    pool: PgPool,
}

impl Reports {
    pub fn new(pool: PgPool) -> Self {
        Reports { pool }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// A parsed GetReportRequest.
pub struct ReportQuery {
    pub filter: Filter,
    pub dates: (chrono::NaiveDate, chrono::NaiveDate),
    pub dimension: ReportDimension,
    pub level: pb::GridLevel,
}

impl ReportQuery {
    pub fn parse(req: &pb::GetReportRequest, caller: &Caller) -> Result<Self, ApiError> {
        let filter = Filter::parse(req.filter.as_ref(), caller)?;
        let (period, custom) = match &req.range {
            Some(pb::get_report_request::Range::Period(p)) => (Some(p), None),
            Some(pb::get_report_request::Range::CustomRange(r)) => (None, Some(r)),
            None => (None, None),
        };
        let dates = domain::dates(period, custom)?;
        let dimension = ReportDimension::try_from(req.dimension)
            .map_err(|_| ApiError::invalid("dimension", "unknown dimension"))?;
        let level = domain::row_level(&filter.root, req.group_level, "group_level")?;
        Ok(ReportQuery {
            filter,
            dates,
            dimension,
            level,
        })
    }

    pub async fn run(&self, pool: &PgPool) -> Result<pb::GetReportResponse, ApiError> {
        report::report(pool, &self.filter, self.dates, self.dimension, self.level).await
    }
}

#[tonic::async_trait]
impl ReportService for Reports {
    #[tracing::instrument(skip_all, fields(grid = %req.get_ref().filter.as_ref().map(|f| f.grid_code.as_str()).unwrap_or("")))]
    async fn get_report(&self, req: Request<pb::GetReportRequest>) -> Reply<pb::GetReportResponse> {
        let caller = Caller::of(&req)?;
        let q = ReportQuery::parse(req.get_ref(), caller)?;
        Ok(Response::new(q.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_trend(&self, req: Request<pb::GetTrendRequest>) -> Reply<pb::GetTrendResponse> {
        let caller = Caller::of(&req)?;
        let r = req.get_ref();
        let filter = Filter::parse(r.filter.as_ref(), caller)?;
        let unit = domain::unit(r.bucket, "bucket")?;
        let range = r
            .range
            .as_ref()
            .ok_or_else(|| ApiError::invalid("range", "required"))?;
        let dates = domain::custom(range, "range")?;
        Ok(Response::new(
            report::trend(&self.pool, &filter, unit, dates).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_ranking(
        &self,
        req: Request<pb::GetRankingRequest>,
    ) -> Reply<pb::GetRankingResponse> {
        let caller = Caller::of(&req)?;
        let r = req.get_ref();
        let filter = Filter::parse(r.filter.as_ref(), caller)?;
        let (period, custom) = match &r.range {
            Some(pb::get_ranking_request::Range::Period(p)) => (Some(p), None),
            Some(pb::get_ranking_request::Range::CustomRange(c)) => (None, Some(c)),
            None => (None, None),
        };
        let dates = domain::dates(period, custom)?;
        let level = domain::row_level(&filter.root, r.level, "level")?;
        let rank_by = match RankBy::try_from(r.rank_by) {
            Ok(RankBy::Unspecified) | Err(_) => {
                return Err(ApiError::invalid("rank_by", "name the indicator to rank by").into());
            }
            Ok(b) => b,
        };
        Ok(Response::new(
            report::ranking(&self.pool, &filter, dates, level, rank_by, r.min_sample).await?,
        ))
    }

    type ExportCsvStream = Pin<Box<dyn Stream<Item = Result<pb::CsvChunk, Status>> + Send>>;

    #[tracing::instrument(skip_all)]
    async fn export_csv(&self, req: Request<pb::ExportCsvRequest>) -> Reply<Self::ExportCsvStream> {
        let caller = Caller::of(&req)?;
        let r = req.get_ref();
        let inner = r
            .report
            .as_ref()
            .ok_or_else(|| ApiError::invalid("report", "required"))?;
        let q = ReportQuery::parse(inner, caller).map_err(|e| prefix_fields(e, "report."))?;
        let report = q.run(&self.pool).await?;
        let name = csv::file_name(&report);
        let chunks: Vec<Result<pb::CsvChunk, Status>> = csv::chunks(&report, r.utf8_bom)
            .into_iter()
            .enumerate()
            .map(|(i, data)| {
                Ok(pb::CsvChunk {
                    data,
                    file_name: if i == 0 { name.clone() } else { String::new() },
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}

/// Names the fields of a nested request by their path from the outer one.
fn prefix_fields(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::InvalidArgument(fields) => ApiError::InvalidArgument(
            fields
                .into_iter()
                .map(|mut f| {
                    f.field = format!("{prefix}{}", f.field);
                    f
                })
                .collect(),
        ),
        other => other,
    }
}
