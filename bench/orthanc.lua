-- orthanc.lua - what a site's Orthanc would run to audit heart rates, for
-- `make bench`: on each stored instance, read the attributes hraudit reads
-- first (series description, manufacturer, Heart Rate (0018,1088), Scan
-- Options (0018,0022)) and keep a count of the cardiac ones.  The work is
-- the reading: Orthanc builds the `tags` table from the whole header.

cardiac = 0

function OnStoredInstance(instanceId, tags, metadata, origin)
   local description = tags['SeriesDescription'] or ''
   local manufacturer = tags['Manufacturer'] or ''
   local heart_rate = tags['HeartRate']
   local scan_options = tags['ScanOptions'] or ''
   if heart_rate ~= nil or string.find(scan_options, 'OSCRATEAVG', 1, true) or
      string.find(description, 'Cor', 1, true) then
      cardiac = cardiac + 1
   end
end
