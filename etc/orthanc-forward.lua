-- orthanc-forward.lua - an Orthanc auto-forward rule for hraudit.
--
-- Orthanc, acting as the hospital PACS (or as a router in front of it),
-- sends every CT instance it receives on to hrauditd, once, as it arrives.
-- Tested as shipped by tests/integration/test_pacs.sh (orthanc-forward,
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
--
-- What Orthanc does, and what the PACS administrator must know (Orthanc
-- 1.10; the tests check each point):
--
-- * Once per reception.  Orthanc calls OnStoredInstance for each instance
--   it receives, so each is forwarded once, as it arrives; there is no
--   second rule (OnStableSeries, say) to forward it again.  An instance
--   Orthanc receives again (a modality resending a study) is forwarded
--   again, although Orthanc keeps one copy: hrauditd counts each SOP
--   Instance UID once, so the database stays right, at the cost of the
--   transfer.
--
-- * SendToModality does not send at once: it queues the instance in a job
--   of Orthanc's ("SequenceOfOperations"), which sends the instances that
--   arrive together over one association and ends some 5 s after the last.
--   The jobs are under the REST API: `curl http://localhost:8042/jobs?expand`.
--   The alternative, RestApiPost('/modalities/hraudit/store', ...) with
--   "Asynchronous": true, makes a job of its own per call (per instance, or
--   per series from OnStableSeries, which waits StableAge seconds first);
--   untested here.
--
-- * A failed send is dropped, not retried.  When hrauditd cannot be
--   reached (stopped, restarting, network down), or answers failure 0xA700
--   (it could not record the instance: database locked too long, disk
--   full), Orthanc logs
--       Lua: Unable to send instance ID to modality "HRAUDIT": ...
--   and goes on with the next instance; the job still ends in "Success",
--   and nothing sends the instance again.  After a failure, send the
--   studies of that time again, as a job of the REST API:
--       curl -X POST http://localhost:8042/modalities/hraudit/store \
--            -d '{"Resources": ["ORTHANC-STUDY-ID"], "Asynchronous": true}'
--   Such a job does end in "Failure" when a send fails (it stops at the
--   first), and `curl -X POST http://localhost:8042/jobs/JOB-ID/resubmit`
--   sends it again, whole.  Instances hrauditd already has count once.
--   Finished jobs are kept in /jobs until JobsHistorySize newer ones push
--   them out (10 by default).
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

function OnStoredInstance(instanceId, tags, metadata, origin)
   if tags['Modality'] ~= 'CT' then
      return
   end
   if ONLY_CARDIAC and not is_cardiac(tags) then
      return
   end
   SendToModality(instanceId, MODALITY)
end
