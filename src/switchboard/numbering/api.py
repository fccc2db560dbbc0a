from fastapi import APIRouter

from switchboard.api_support import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["numbering"])
