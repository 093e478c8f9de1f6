-- orthanc-forward.lua - an Orthanc auto-forward rule for hraudit.
--
-- Orthanc, acting as the hospital PACS (or as a router in front of it),
-- sends every CT instance it receives on to hrauditd, once, as it arrives,
-- and sends again what hrauditd could not take, until it does.  Tested as
-- shipped by tests/integration/test_pacs.sh (orthanc-forward,
-- orthanc-forward-retry) with Debian 12's Orthanc 1.10.
--
-- Set-up, in Orthanc's configuration (orthanc.json):
--
--   "DicomModalities" : {
--     "hraudit" : [ "HRAUDIT", "hraudit.example.org", 104 ]
--   },
--   "LuaScripts" : [ "/etc/orthanc/orthanc-forward.lua" ]
--
-- "hraudit" is Orthanc's name for the node (MODALITY below); "HRAUDIT" is
-- hrauditd's AE title ([server] aetitle), then its host and port.  On
-- hrauditd, allow Orthanc's own AE title (DicomAet, "ORTHANC" by default)
-- from Orthanc's address: `allow = ORTHANC 10.20.1.15` under [access].
-- Orthanc has one OnStoredInstance (and one OnJobSuccess, OnJobFailure):
-- if another of its Lua scripts defines them too, the last one loaded wins,
-- so merge the two.
--
-- What the rule does (Orthanc 1.10; the tests check each point):
--
-- * Once per reception.  For each instance Orthanc receives (and
--   OnStoredInstance runs), the rule asks Orthanc to store it to hrauditd
--   as a job of its own (REST API: POST /modalities/hraudit/store,
--   asynchronous): one association per instance.  An instance Orthanc
--   receives again (a modality resending a study) is forwarded again,
--   although Orthanc keeps one copy: hrauditd counts each SOP Instance UID
--   once, so the database stays right, at the cost of the transfer.
--
-- * Failed sends are sent again.  When hrauditd cannot be reached
--   (stopped, restarting, network down) or answers failure 0xA700 (it could
--   not record the instance: database locked too long, disk full), the job
--   ends in "Failure" and the rule logs, in Orthanc's log:
--       Lua says: hraudit: forward job JOB-ID failed (...): 1 instance(s)
--         to send again in 60 s, 1 waiting in all
--   Every RETRY_PERIOD seconds it sends the instances waiting, all of them
--   in one job ("hraudit: sending 9 instance(s) again (attempt 3)"), until
--   that job succeeds ("hraudit: the 9 instance(s) sent again were
--   accepted").  Instances hrauditd already has count once.
--
-- * For RETRY_HOURS at most.  An instance that still fails RETRY_HOURS
--   after its first failure is given up, with one log line naming it
--   ("hraudit: giving up on instance ...").  Send it by hand (below).
--
-- * Not across a restart of Orthanc.  The instances waiting are kept in
--   Orthanc's memory: when Orthanc stops, they are forgotten (its log has
--   their failure lines).  After an outage of hrauditd that outlasted
--   RETRY_HOURS or a restart of Orthanc, send the studies of that time
--   again, by hand:
--       curl -X POST http://localhost:8042/modalities/hraudit/store \
--            -d '{"Resources": ["ORTHANC-STUDY-ID"], "Asynchronous": true}'
--
-- * What to look at.  The forward jobs, and their state, are under the
--   REST API: `curl 'http://localhost:8042/jobs?expand'`, type
--   "DicomModalityStore"; the last ones only (JobsHistorySize, 10 by
--   default).  What is waiting is in the log lines above.
--
-- * How the waiting works.  Orthanc 1.10's Lua has no timer (OnHeartBeat
--   came with Orthanc 1.11.1), and a Lua function that sleeps stops
--   Orthanc's REST API meanwhile.  So, while instances wait, the rule keeps
--   a clock going: it stores one of them into Orthanc again (Orthanc keeps
--   its one copy; OnStoredInstance is called, with origin "Lua"), and there
--   queues an empty command, which makes one of Orthanc's "Lua" jobs
--   (SequenceOfOperations); that job ends about 5 s later, and its end
--   (OnJobSuccess) is the tick.  A tick is cheap (no command is run), but
--   each one reads the instance and runs OnStoredInstance callbacks of
--   Orthanc's plugins, if any (and, with "OverwriteInstances": true, stores
--   the instance again).  The clock stops when nothing waits.
--
-- * Objects hrauditd does not record (not cardiac) are still answered
--   success, so a forward of every CT never fails on them; they only cost
--   the transfer.  ONLY_CARDIAC below saves that transfer, at the risk of
--   missing a cardiac series whose heart rate is only in private elements
--   (GE, Canon) and whose description does not say cardiac: hrauditd itself
--   reads those, so when in doubt forward every CT.

-- Orthanc's name for the hraudit node: a key of DicomModalities.
local MODALITY = 'hraudit'

-- false: forward every CT instance (the default, and what the tests use).
-- true: forward only instances that look cardiac (is_cardiac below).
local ONLY_CARDIAC = false

-- Series descriptions of the site's cardiac protocols (Lua patterns,
-- matched against the lower-cased description); adapt to the site.
local CARDIAC_DESCRIPTIONS = { 'cor', 'card', 'heart', 'ccta', 'calcium' }

-- Seconds between two attempts at sending the instances that failed (at
-- least about 5: see "How the waiting works"), and hours after its first
-- failure when an instance is given up.  A script listed before this one
-- in LuaScripts may set them (the tests do: HRAUDIT_RETRY_PERIOD = 2).
local RETRY_PERIOD = HRAUDIT_RETRY_PERIOD or 60
local RETRY_HOURS = HRAUDIT_RETRY_HOURS or 72

-- is_cardiac(tags): true when the instance carries ECG attributes or a
-- cardiac series description.
local function is_cardiac(tags)
   local hr = tonumber(tags['HeartRate'] or '')                -- (0018,1088)
   local options = tags['ScanOptions'] or ''                   -- (0018,0022)
   local description = string.lower(tags['SeriesDescription'] or '')
   if (hr ~= nil and hr > 0)
      or tags['CardiacSynchronizationSequence'] ~= nil         -- (0018,9118)
      or string.find(options, 'CARD', 1, true)                 -- Siemens, GE
      or string.find(options, 'TRGD', 1, true)                 -- Siemens: ECG triggered
      or string.find(options, 'OSCRATE', 1, true)              -- Siemens: heart rate
      or string.find(tags['ExposureModulationType'] or '', 'ECG', 1, true) then
      return true
   end
   for _, pattern in ipairs(CARDIAC_DESCRIPTIONS) do
      if string.find(description, pattern) then
         return true
      end
   end
   return false
end

-- ---- the rule's memory (Orthanc's, lost when it stops) ---------------------

local jobs = {}         -- our store jobs not yet ended: job ID -> { ids, attempt }
local waiting = {}      -- instances to send again: ID -> attempts so far
local first_failed = {} -- instance ID -> os.time() of its first failure
local next_retry = nil  -- os.time() of the next attempt, nil when none waits
local clock = nil       -- the instance the clock stores again, nil when stopped

local function count(t)
   local n = 0
   for _ in pairs(t) do
      n = n + 1
   end
   return n
end

-- send(ids, attempt): one store job to hrauditd for the instances ids.
-- attempt is 1 for the forward of a reception, 2 and more for the retries.
local function send(ids, attempt)
   local answer = RestApiPost('/modalities/' .. MODALITY .. '/store',
                              DumpJson({ Resources = ids, Asynchronous = true }, true))
   local job = answer and ParseJson(answer)['ID']
   if job == nil then
      -- Orthanc refused the job itself (MODALITY missing from
      -- DicomModalities?): its log says why; treat it as a failed send.
      print('hraudit: cannot create a store job to "' .. MODALITY .. '"')
      return false
   end
   jobs[job] = { ids = ids, attempt = attempt }
   return true
end

-- wait_for_retry(ids, attempt): ids go into the waiting set; the clock
-- starts if it is stopped.
local start_clock
local function wait_for_retry(ids, attempt)
   local now = os.time()
   for _, id in ipairs(ids) do
      first_failed[id] = first_failed[id] or now
      waiting[id] = math.max(waiting[id] or 0, attempt)
   end
   next_retry = next_retry or now + RETRY_PERIOD
   start_clock()
end

-- start_clock(): stores one waiting instance into Orthanc again, so that
-- OnStoredInstance queues the tick (see "How the waiting works").
start_clock = function()
   if clock ~= nil then
      return
   end
   for id in pairs(waiting) do
      local dicom = RestApiGet('/instances/' .. id .. '/file')
      if dicom == nil then
         -- Deleted from Orthanc meanwhile: nothing left to send.
         print('hraudit: instance ' .. id .. ' is no longer in Orthanc: not sent again')
         waiting[id] = nil
         first_failed[id] = nil
      else
         clock = id
         if RestApiPost('/instances', dicom) ~= nil then
            return
         end
         clock = nil
         print('hraudit: cannot keep the retry clock going (POST /instances failed)')
         return
      end
   end
   next_retry = nil    -- nothing waits
end

-- retry(): at the tick after next_retry, one job sends every waiting
-- instance again, but those waiting for more than RETRY_HOURS.
local function retry()
   local now = os.time()
   local ids, attempt = {}, 1
   for id, attempts in pairs(waiting) do
      if now - first_failed[id] >= RETRY_HOURS * 3600 then
         print('hraudit: giving up on instance ' .. id .. ' after ' .. attempts ..
               ' attempts since ' .. os.date('%Y-%m-%d %H:%M:%S', first_failed[id]) ..
               ': send its study by hand (POST /modalities/' .. MODALITY .. '/store)')
         first_failed[id] = nil
      else
         table.insert(ids, id)
         attempt = math.max(attempt, attempts + 1)
      end
   end
   waiting = {}
   next_retry = nil
   if #ids > 0 then
      print('hraudit: sending ' .. #ids .. ' instance(s) again (attempt ' .. attempt .. ')')
      if not send(ids, attempt) then
         wait_for_retry(ids, attempt)
      end
   end
end

-- ---- Orthanc's callbacks ---------------------------------------------------

function OnStoredInstance(instanceId, tags, metadata, origin)
   if origin['RequestOrigin'] == 'Lua' and instanceId == clock then
      -- The clock's own store: queue the empty command, without input (no
      -- command is run), whose job ends about 5 s later.
      CallSystem('', '/bin/true', {})
      return
   end
   if tags['Modality'] ~= 'CT' then
      return
   end
   if ONLY_CARDIAC and not is_cardiac(tags) then
      return
   end
   if not send({ instanceId }, 1) then
      wait_for_retry({ instanceId }, 1)
   end
end

function OnJobSuccess(jobId)
   local job = jobs[jobId]
   if job ~= nil then
      jobs[jobId] = nil
      for _, id in ipairs(job.ids) do
         first_failed[id] = nil
      end
      if job.attempt > 1 then
         print('hraudit: the ' .. #job.ids .. ' instance(s) sent again were accepted (attempt ' ..
               job.attempt .. ')')
      end
      return
   end
   -- Another job: maybe the clock's (any job of type SequenceOfOperations
   -- would do).  A tick.
   if clock == nil then
      return
   end
   local info = RestApiGet('/jobs/' .. jobId)
   if info == nil or ParseJson(info)['Type'] ~= 'SequenceOfOperations' then
      return
   end
   clock = nil
   if next_retry ~= nil and os.time() >= next_retry then
      retry()
   end
   if next(waiting) ~= nil then
      start_clock()
   end
end

function OnJobFailure(jobId)
   local job = jobs[jobId]
   if job == nil then
      return
   end
   jobs[jobId] = nil
   local why = ''
   local info = RestApiGet('/jobs/' .. jobId)
   if info ~= nil then
      local j = ParseJson(info)
      why = ' (' .. tostring(j['ErrorDescription']) ..
         ((j['ErrorDetails'] or '') ~= '' and ': ' .. j['ErrorDetails'] or '') .. ')'
   end
   wait_for_retry(job.ids, job.attempt)
   print('hraudit: forward job ' .. jobId .. ' failed' .. why .. ': ' .. #job.ids ..
         ' instance(s) to send again in ' .. math.max(next_retry - os.time(), 0) ..
         ' s, ' .. count(waiting) .. ' waiting in all')
end
