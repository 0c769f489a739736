"""Constants of the seed plugin v0.1.1 (values from seed-plugin.md §4)."""

ADD_SKIP_RESULT = {"results": [{"id": "", "memory": "", "event": "SKIP"}]}
ADD_ACCEPT_RESULT = {"results": [{"id": "", "memory": "", "event": "ACCEPT"}]}
UPDATE_ACCEPT_RESULT = {"results": {"message": "Memory update has been accepted"}}
DELETE_ACCEPT_RESULT = {"results": {"message": "Memory deletion has been accepted"}}
DELETE_ALL_ACCEPT_RESULT = {"results": {"message": "Batch memory deletion has been accepted"}}

MAX_REQUEST_TIMEOUT = 120
SEARCH_OPERATION_TIMEOUT = 60
GET_OPERATION_TIMEOUT = 30
GET_ALL_OPERATION_TIMEOUT = 60
HISTORY_OPERATION_TIMEOUT = 30
MAX_CONCURRENT_MEM_ADDS = 5
SEARCH_DEFAULT_TOP_K = 5

# Passed as prompt= on every add, like the seed; mem0 ignores it for ordinary fact extraction.
CUSTOM_PROMPT = (
    "Core constraint - language preservation: write each extracted memory in the language the user used.\n"
    'Example output: {"facts": ["Did not receive the order"]}'
)
