-- wrk script: authoritative household decisions, each a different
-- household id (so the audit log grows as it would in production).
local input = '{"district":"urban","on_dibao":false,"migrant_renter":true,"last_visit":"2026-10-08","members":[{"age":41,"monthly_income":1450.00,"employment":"unemployed_epidemic","chronic_illness":true},{"age":39,"monthly_income":980.50,"employment":"employed","frontline_worker":true},{"age":11,"monthly_income":0.00,"employment":"student","difficult_child":true}],"cases":[{"id":"C-301","kind":"coordination","opened_at":"2026-11-17T10:00:00+08:00"}]}'
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format(nil, "/v1/decisions/household", nil,
    '{"as_of":"2026-11-20T09:00:00+08:00","lang":"en","input":{"id":"HH-LOAD-' .. counter .. '",' .. string.sub(input, 2) .. '}')
end
