-- A worker's own task on a ticket (签收, 处置, 退单 look it up) is found through the ticket:
-- without this index the lookup went through `tasks_worker`, every task the worker ever
-- held, and grew with history.
CREATE INDEX tasks_by_ticket ON tasks (ticket_id, id DESC);
