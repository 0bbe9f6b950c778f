"""The JSON API: enrolment, signed device endpoints (records, config, triggers, status), the case-system prompt."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sync_server import configs, devices, ingest, triggers
from sync_server.auth import authenticate
from sync_server.devices import Device
from sync_server.errors import Conflict, Forbidden, NotConfigured, PayloadTooLarge
from sync_server.schemas import (
    CASE_NO_PATTERN,
    TRIGGER_ID_PATTERN,
    ClosedCaseBatch,
    ClosedCasesResponse,
    ConfigResponse,
    EnrolRequest,
    EnrolResponse,
    ErrorResponse,
    OkResponse,
    PromptRequest,
    PromptResponse,
    PromptStatus,
    RecordBatch,
    RecordsResponse,
    StatusRequest,
    TriggerAck,
    TriggersResponse,
)

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 410, 413, 422, 503)}


def signed_path(request: Request) -> str:
    """The path and query exactly as the device sent (and signed) them."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def signed_device(request: Request) -> Device:
    """Dependency: the device that signed this request (401 otherwise, with nothing stored)."""
    body = await request.body()
    state = request.app.state
    return await run_in_threadpool(
        authenticate, state.store, request.method, signed_path(request), request.headers, body, state.clock()
    )


SignedDevice = Annotated[Device, Depends(signed_device)]


def _now_s(request: Request) -> float:
    return request.app.state.clock().timestamp()


def device_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=_ERRORS)
    _enrolment(router)
    _records(router)
    _config(router)
    _triggers(router)
    _closed_cases(router)
    return router


def _enrolment(router: APIRouter) -> None:
    @router.post("/enroll", response_model=EnrolResponse, tags=["设备"], summary="用一次性登记码登记设备")
    def enroll(body: EnrolRequest, request: Request):
        device = devices.enrol(request.app.state.store, body.code, request.app.state.clock())
        return EnrolResponse(
            device_id=device.id, secret=device.secret.hex(), window=device.window, server_time=_now_s(request)
        )

    @router.post("/status", response_model=OkResponse, tags=["设备"], summary="评价器上报运行状态")
    def status(body: StatusRequest, request: Request, device: SignedDevice):
        devices.record_status(request.app.state.store, device.id, body.model_dump())
        return OkResponse(server_time=_now_s(request))


def _records(router: APIRouter) -> None:
    @router.post(
        "/records",
        response_model=RecordsResponse,
        response_model_exclude_none=True,
        tags=["设备"],
        summary="上传一批记录（幂等）",
    )
    def push_records(body: RecordBatch, request: Request, device: SignedDevice):
        state = request.app.state
        limit = state.settings.max_batch_records
        if len(body.records) > limit:
            raise PayloadTooLarge(f"一批最多 {limit} 条记录，本批 {len(body.records)} 条，请分批发送")
        if any(r.device_id != device.id for r in body.records):
            raise Forbidden("记录的设备编号与签名设备不一致，整批拒收")
        batch = [r.as_record() for r in body.records]
        cipher = state.contact_cipher
        results, refused = ingest.ingest_batch(state.store, device.id, batch, state.clock(), device.window, cipher)
        state.event_metrics.batch(results)  # hcp_sync_batches / hcp_sync_records{result} (observability.py)
        # Built here in the documented shape (RecordsResponse): a plain JSONResponse spares re-validating and
        # re-serialising hundreds of results through the response model on every batch.
        return JSONResponse(
            {
                "ok": True,
                "results": [_result(rid, status, refused.get(rid)) for rid, status in results],
                "server_time": _now_s(request),
            }
        )


def _result(rid: str, status: str, error: str | None) -> dict:
    return {"id": rid, "status": status, "error": error} if error else {"id": rid, "status": status}


def _config(router: APIRouter) -> None:
    @router.get(
        "/config",
        response_model=ConfigResponse,
        tags=["设备"],
        summary="下载大厅配置（支持 If-None-Match）",
        responses={304: {"description": "配置未变"}},
    )
    def get_config(
        request: Request,
        device: SignedDevice,
        if_none_match: Annotated[str | None, Header()] = None,
    ):
        with request.app.state.store.read() as conn:
            cv = configs.current_config(conn)
        if cv is None:
            raise NotConfigured("服务器尚未导入大厅配置")
        etag = f'"{cv.version}"'
        if if_none_match and _etag_matches(if_none_match, cv.version):
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(configs.config_body(cv), headers={"ETag": etag})


def _bearer(authorization: str | None) -> str | None:
    return authorization.removeprefix("Bearer ").strip() if authorization else None


def _etag_matches(header: str, version: str) -> bool:
    tags = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return version in tags or "*" in tags


def _prompt_live_for(store) -> timedelta:
    """How long a prompt can stay on a terminal's screen: the prompt and reasons timeouts, and a minute of slack."""
    with store.read() as conn:
        rules = configs.current_rules(conn)
    return timedelta(seconds=rules.prompt_timeout_s + rules.reasons_timeout_s + 60)


def _triggers(router: APIRouter) -> None:
    @router.get("/triggers", response_model=TriggersResponse, tags=["设备"], summary="长轮询：等待办件系统的评价触发")
    async def poll_triggers(
        request: Request,
        device: SignedDevice,
        wait: Annotated[float, Query(ge=0, le=30, description="最长等待秒数（≤ 30）")] = 0,
    ):
        state = request.app.state
        ttl = timedelta(seconds=state.settings.trigger_ttl_s)
        deadline = time.monotonic() + min(wait, state.settings.long_poll_max_s)
        live_for = _prompt_live_for(state.store)
        while True:
            found = await run_in_threadpool(triggers.open_triggers, state.store, device.window, state.clock(), ttl)
            rated = await run_in_threadpool(
                triggers.phone_rated_on_screen, state.store, device.id, state.clock(), live_for
            )
            left = deadline - time.monotonic()
            if found or rated or left <= 0 or await request.is_disconnected():
                break
            await asyncio.sleep(min(state.settings.poll_interval_s, left))
        items = [
            {"id": t.id, "case_no": t.case_no, "matter_code": t.matter_code, "created_at": t.created_at} for t in found
        ]
        return {"ok": True, "triggers": items, "phone_rated": rated, "server_time": _now_s(request)}

    @router.post("/triggers/ack", response_model=OkResponse, tags=["设备"], summary="确认已收到（或已拒绝）的触发")
    def ack_triggers(body: TriggerAck, request: Request, device: SignedDevice):
        state = request.app.state
        triggers.acknowledge(state.store, device.id, device.window, body.ids, body.refused, state.clock())
        return OkResponse(server_time=_now_s(request))

    @router.post(
        "/cases/{case_no:path}/prompt",
        response_model=PromptResponse,
        status_code=202,
        tags=["办件系统"],
        summary="办件办结：请求窗口评价器发起评价",
    )
    def prompt_case(
        case_no: Annotated[str, Path(pattern=CASE_NO_PATTERN, description="办件编号")],
        body: PromptRequest,
        request: Request,
        authorization: str | None = Header(default=None),
    ):
        state = request.app.state
        trigger_id = triggers.create_trigger(
            state.store, _bearer(authorization), case_no, body.window, body.matter_code, state.clock()
        )
        return PromptResponse(trigger_id=trigger_id)

    @router.get("/prompts/{trigger_id}", response_model=PromptStatus, tags=["办件系统"], summary="查询评价请求的结果")
    def prompt_result(
        trigger_id: Annotated[str, Path(pattern=TRIGGER_ID_PATTERN, description="评价请求编号")],
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
    ):
        state = request.app.state
        ttl = timedelta(seconds=state.settings.trigger_ttl_s)
        return triggers.prompt_status(state.store, _bearer(authorization), trigger_id, state.clock(), ttl)


def _closed_cases(router: APIRouter) -> None:
    @router.post(
        "/cases/closed",
        response_model=ClosedCasesResponse,
        tags=["办件系统"],
        summary="报送已受理、已办结的办件（按办件编号幂等）",
    )
    def report_closed_cases(
        body: ClosedCaseBatch, request: Request, authorization: Annotated[str | None, Header()] = None
    ):
        from sync_server.closedcases.errors import BatchRefused
        from sync_server.closedcases.intake import ClosedCase, take_in

        state = request.app.state
        with state.store.read() as conn:
            system = triggers.case_system_for(conn, _bearer(authorization))
            cv = configs.current_config(conn)
        if cv is None:
            raise NotConfigured("服务器尚未导入大厅配置，无法核对窗口和事项")
        cases = [ClosedCase(**item.model_dump()) for item in body.cases]
        try:
            results = take_in(state.store, cases, system, state.clock(), cv.config.hall)
        except BatchRefused as e:  # well-formed, but at odds with the hall configuration or the clock
            raise Conflict(f"本批未保存：{e}") from None
        return {
            "ok": True,
            "results": [{"case_no": no, "status": status} for no, status in results],
            "server_time": _now_s(request),
        }
