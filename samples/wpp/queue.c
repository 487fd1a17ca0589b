/* queue.c: wppuser (written by build.py; the trace statements are expanded by queue.tmh). */
#include "wppuser.h"
#include "queue.tmh"

void *QpItems[16];
LONG QpCount;

__declspec(noinline) void QpInsert(void *Item, LONG Priority)
{
    DoTraceEvents(TRACE_LEVEL_VERBOSE, PERF_ENTRY, "--> QpInsert item %p priority %d", Item, Priority);
    if (QpCount >= 16) {
        DoTraceEvents(TRACE_LEVEL_WARNING, TRACE_QUEUE, "queue full (%d items), dropping %p", Item, QpCount);
        return;
    }
    QpItems[QpCount++] = Item;
}

__declspec(noinline) void QpDrain(LPCGUID Owner)
{
    LONG64 Drained = QpCount;
    QpCount = 0;
    DoTraceEvents(TRACE_LEVEL_INFORMATION, TRACE_QUEUE, "drained %I64d items for %!GUID!", Drained, Owner);
    DoTraceEvents(TRACE_LEVEL_VERBOSE, PERF_EXIT, "<-- QpDrain %I64d", Drained);
}

__declspec(dllexport) __declspec(noinline) void WidgetQueueWork(void *Item, LONG Priority)
{
    QpInsert(Item, Priority + 1);
}

__declspec(dllexport) __declspec(noinline) void WidgetFlush(LPCGUID Owner)
{
    QpDrain(Owner);
}
