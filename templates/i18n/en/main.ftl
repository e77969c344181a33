# Herald — English catalogue. Keys are shared by every language; see hu/ and pl/.
# Variables available in message texts: $utility, $place, $cause, $etr, $starts,
# $reference, $url, $message.

## Dates and times
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
date-format = { $day } { $month } { $year }
date-time-format = { $date }, { $time }
time-today = today at { $time }
time-tomorrow = tomorrow at { $time }
time-yesterday = yesterday at { $time }
time-date = { $date } at { $time }
etr-unknown = not yet assessed

## Utilities
utility-name = { $utility ->
    [power] electricity
    [water] water
    [gas] gas
    [telecom] phone and internet
    [heating] district heating
   *[sewer] sewerage
}
outage-title = { $utility ->
    [power] Power outage
    [water] Water outage
    [gas] Gas outage
    [telecom] Phone and internet outage
    [heating] Heating outage
   *[sewer] Sewerage outage
}
planned-title = { $utility ->
    [power] Planned power cut
    [water] Planned water cut
    [gas] Planned gas cut
    [telecom] Planned phone and internet work
    [heating] Planned heating cut
   *[sewer] Planned sewerage work
}

## Addresses: the one way an address reads (src/i18n.rs `address`). A place
## without streets is named by its settlement and house number; house numbers are
## as the register writes them (12/A, 3-5, hrsz. 0123/4).
address-street-short = { $street } { $number }
address-street = { $street } { $number }, { $settlement }
address-street-postal = { $street } { $number }, { $postcode } { $settlement }
address-village = { $settlement } { $number }
address-village-postal = { $settlement } { $number }, { $postcode }

## Labels
label-address = Address
label-cause = Cause
label-etr = Expected restoration
label-starts = Starts
label-reference = Reference
label-details = Details and updates
label-message = Message from the operator

## E-mail headlines
email-declared-subject = { $title }: { $place } ({ $reference })
email-updated-subject = Update — { $title }: { $place } ({ $reference })
email-restored-subject = Restored — { $utility-name } is back at { $place } ({ $reference })
email-cancelled-subject = Cancelled — { $title }: { $place } ({ $reference })
email-withdrawn-subject = No longer affected — { $title } ({ $reference })
declared-intro = There is an outage affecting your address.
declared-planned-intro = Work is planned that will affect your address.
updated-intro = There is new information about the outage affecting your address.
restored-intro = The outage affecting your address is over; supply has been restored.
cancelled-intro = The outage notice for your address has been withdrawn; please disregard it.
cancelled-planned-intro = The planned work affecting your address has been cancelled.
withdrawn-intro = Good news: the outage no longer affects your address.
email-quote-reference = Quote reference { $reference } if you call us.
email-footer = You receive these alerts because this address is registered for outage notifications.
email-unsubscribe = Unsubscribe from these alerts

## SMS (kept short: one segment where possible)
sms-declared = { $title }: { $place }. Cause: { $cause }. Expected fix: { $etr }. Ref { $reference } { $url }
sms-declared-short = { $title }: { $place }. Expected fix: { $etr }. Ref { $reference } { $url }
sms-declared-planned = { $title }: { $place }, { $starts }. Expected end: { $etr }. Ref { $reference } { $url }
sms-updated = Update, { $title }: { $place }. Expected fix: { $etr }. Ref { $reference } { $url }
sms-restored = Restored: { $utility-name } is back at { $place }. Ref { $reference }
sms-cancelled = Cancelled: disregard outage notice { $reference } for { $place }.
sms-withdrawn = Outage { $reference } no longer affects { $place }.

## Pages
page-unsubscribe-title = Unsubscribe from outage alerts
page-unsubscribe-question = Stop sending outage alerts for { $address } to { $destination }?
page-unsubscribe-button = Unsubscribe
page-unsubscribed = You will not receive outage alerts at { $destination } any more.
page-not-found = Not found
page-outage-history = Updates
page-status-active = In progress
page-status-scheduled = Scheduled
page-status-restored = Restored
page-status-cancelled = Cancelled
page-affected-addresses = Addresses affected: { $count }
page-last-update = Last update: { $time }
page-history-time = Time

## IVR: sentences for text-to-speech; times as people say them
spoken-clock = { $minute ->
    [0] { $hour12 } { $ampm }
   *[other] { $hour12 }:{ $minute2 } { $ampm }
}
spoken-today = today at { $clock }
spoken-tomorrow = tomorrow at { $clock }
spoken-yesterday = yesterday at { $clock }
spoken-date = on { $date } at { $clock }
ivr-etr-at = We expect it to be fixed { $when }.
ivr-etr-unknown = The time of restoration has not been assessed yet.
ivr-etr-overdue = Repairs are taking longer than expected; a new estimate will follow soon.
ivr-outage = { $title } at { $place }. { $etr-sentence } Your reference is { $reference }.
ivr-planned = { $title } at { $place }, from { $starts } until { $when }. Your reference is { $reference }.
ivr-none = We know of no outage at { $place }.
ivr-unknown = We could not find an address for this number.
ivr-hint = To hear about a particular address, please enter its postcode.
ivr-place-postcode = postcode { $postcode }
ivr-place-here = your location
ivr-place-caller = your address in { $settlement }
ivr-menu-repeat = To hear this again, press 1.
ivr-menu-sms = To get it by SMS on this number, press 2.
ivr-sms-sent = We will send you a text message shortly. Goodbye.

## Status pages
site-name = Outage status
page-skip = Skip to content
nav-label = Main
nav-home = Current outages
nav-planned = Planned work
page-language = Language
page-footer = This page updates itself. Times are local. Quote the reference when you call us.
page-home-title = Current outages and planned work
page-active = Outages now
page-planned = Planned work
page-none-active = There are no known outages right now.
page-none-planned = No planned work is scheduled.
page-addresses = Addresses affected
page-updated = Last update
page-where = Where
page-search-title = Am I affected?
page-search-label = Your address or reference number
page-search-placeholder = e.g. Kossuth Lajos utca 12, Budapest
page-search-button = Check
page-search-results = Results
page-search-none = We could not find that address. Check the spelling, or add the town.
page-not-affected = No known outage
page-history-status = Status
page-more = More
page-check-address = Check another address
page-format-json = This status as JSON
page-format-text = This status as plain text
page-map-title = Map of the affected area
page-map-desc = The outline shows the affected area; dots are the { $count } affected addresses.
page-map-caption = Affected area in { $places }. Scale bar: { $scale }.
language-name = English

## Subscribing on the status page (double opt-in)
channel-email = e-mail
channel-sms = SMS
confirm-subject = Confirm outage alerts for { $address }
confirm-intro = Someone, hopefully you, asked for outage alerts by { $channel } about { $address }.
confirm-action = To start receiving them, open this link within 24 hours:
confirm-button = Confirm my subscription
confirm-ignore = If this was not you, ignore this message: nothing more will be sent.
confirm-footer = You receive this message because this address was entered on our outage status page.
confirm-sms = Outage alerts for { $address }: confirm at { $url } (ignore if it was not you)
page-subscribe-title = Get outage alerts
page-subscribe-link = Get alerts for this address
page-report-summary = No supply here? Tell us
page-report-utility = Which service is out
page-report-button = Report no supply at this address
page-report-title = Thank you for telling us
page-report-known = We know about it: outage { $reference } covers { $place }. Its page has the expected fix time.
page-report-new = We have passed it on: the dispatchers see your report for { $place } on their map. We knew of no outage there yet.
page-report-still-out = We have passed it on: outage { $reference } was restored, and the dispatchers now see that { $place } is still without supply.
page-report-slow-down = Too many reports from here; please try again in { $minutes } minutes.
page-subscribe-intro = We send an e-mail or SMS when an outage or planned work affects your address, when the expected fix time changes, and when service is back.
page-subscribe-find = Find your address
page-subscribe-pick = Choose your address
page-subscribe-address = Address
page-subscribe-change = Choose another address
page-subscribe-channel = Send alerts by
page-subscribe-destination = E-mail address or mobile number
page-subscribe-destination-hint = For SMS, a mobile number such as +36 30 123 4567.
page-subscribe-language = Language of the alerts
page-subscribe-consent = We use your contact only for outage alerts at this address. Every message has a link to stop them.
page-subscribe-button = Subscribe
page-subscribe-sent-title = Check your messages
page-subscribe-sent = We sent a confirmation link to { $destination }. Open it within 24 hours to start receiving alerts for { $address }.
page-subscribe-too-many = Too many requests for { $destination } today. Please try again tomorrow.
page-subscribe-slow-down = Too many sign-ups have come from your network. Please try again in { $minutes } minutes.
page-subscribe-sms-busy = We cannot send more confirmation texts just now. Please try again in { $minutes } minutes, or sign up by e-mail.
page-error-summary = Please correct the following:
page-error-address = Choose an address from the list.
page-error-channel = Choose e-mail or SMS.
page-error-email = Enter an e-mail address such as name@example.com.
page-error-phone = Enter a mobile number such as +36 30 123 4567.
page-error-phone-country = We can send text messages only to numbers in: { $countries }.
page-error-language = Choose a language.
page-confirm-title = Confirm outage alerts
page-confirm-question = Send outage alerts for { $address } to { $destination }?
page-confirm-button = Yes, send me alerts
page-confirmed = Done: outage alerts for { $address } will be sent to { $destination }. Every message has a link to stop them.
page-confirmed-queued = An outage is affecting this address now; its details are on their way to you.
page-confirm-expired = This link has expired. Please subscribe again.
page-confirm-already = This subscription is already confirmed.

## Dispatcher console
console-name = Herald console
console-nav = Console
console-outages = Outages
console-audit = Audit log
console-audit-csv = Download as CSV
console-signed-in-as = Signed in as { $name }
console-sign-out = Sign out
console-sign-out-everywhere = Sign out everywhere
console-login-title = Sign in
console-username = Username
console-password = Password
console-sign-in = Sign in
console-login-refused = Wrong username or password, or too many tries. Wait a minute and try again.
console-login-expired = The sign-in form had expired. Please sign in again.
console-role-viewer = viewer
console-role-dispatcher = dispatcher
console-role-supervisor = supervisor
console-role-operator = operator
console-role-ivr = IVR
console-status = Status
console-utility = Utility
console-any = any
console-filter = Show
console-no-outages = No outages match.
console-outage-count = { $count } outages, newest first
console-reference = Reference
console-cause = Cause
console-etr = Expected fix
console-addresses = Addresses
console-updated = Updated
console-time = Time
console-who = Who
console-action = Action
console-subject = Subject
console-details = Details
console-client = Client address
console-kind = Kind
console-kind-unplanned = unplanned outage
console-kind-planned = planned work
console-public-page = Public page
console-deliveries = Messages
console-channel = Channel
console-channel-email = e-mail
console-channel-sms = SMS
console-pending = Waiting
console-sent = Sent
console-failed = Failed
console-change = Change
console-change-hint = Each change is shown with what it sends, and to how many people, before it is made.
console-etr-plus-30m = +30 min
console-etr-plus-1h = +1 hour
console-etr-plus-2h = +2 hours
console-etr-unknown = Not yet assessed
console-etr-custom = Other time
console-review = Review
console-new-cause = New cause
console-end = End
console-restore = Mark as restored
console-cancel = Cancel the outage
console-history = History
console-change-declared = declared
console-change-updated = updated
console-change-started = started
console-change-restored = restored
console-change-cancelled = cancelled
console-change-applied = The change was made; its messages are on their way.
console-review-title = Check before sending
console-review-restore = Status: restored. Everyone who was told about the outage hears that it is over.
console-review-cancel = Status: cancelled. Everyone who was told about the outage hears that it was called off.
console-review-message = The extra message changes: everyone already told hears the outage again with it.
console-area-change = Area
console-area-redraw = Redraw the area on the map
console-extend = Extend the area over the { $count } reports of no supply just outside it
console-area-now = The outage covers { $count } addresses now.
console-review-area = Area: { $before } → { $after } addresses ({ $added } added, { $removed } left out).
console-review-area-reach = The added addresses' { $email } e-mail addresses and { $sms } phone numbers are told of the outage; anyone told at the { $removed } addresses left out hears that it no longer covers them.
console-review-reach = Sends to { $email } e-mail addresses
console-review-reach-sms = and { $sms } phone numbers already told about this outage.
console-review-queued = { $count } messages still waiting will say the new state when they go.
console-sms-count = { $units } characters
console-sms-segments = { $segments } SMS
console-email = E-mail
console-ivr = Phone system
console-confirm = Send
console-back = Back, change nothing
console-deliveries-csv = Download every message as CSV
console-calls = Who called before being told
console-calls-hint = Callers to the phone system whose address is in this outage, and whether a message about it had reached their number before their first call.
console-calls-callers = Callers
console-calls-told = Told before calling
console-calls-share = Share told before calling
console-calls-lead = Median time from message to call
console-reports = Residents' reports of no supply
console-reports-inside = Inside the area while open
console-reports-still-out = Still out within a day after the restore
console-reports-still-out-last = { $count }, latest { $time }
console-calls-none = none yet
console-duration-under-minute = under a minute
console-duration-minutes = { $minutes } min
console-duration-hours = { $hours } h { $minutes } min
console-live-updated = Figures as of { $time }
console-live-changed = This outage has changed since the page was loaded.
console-live-reload = Reload the page
console-new = Declare an outage
console-new-title = Declare an outage
console-map-label = Map: draw the outage's area
console-map-hint = Draw the area with the tools at the map's top left: a polygon or a rectangle, cut a hole, edit the corners, delete. Without a mouse, paste the area as GeoJSON below or upload a file. Blue dots are addresses (larger, paler dots stand for many); dashed outlines are open outages.
console-preview = What it reaches
console-preview-email = E-mail contacts
console-preview-sms = SMS contacts
console-preview-settlements = Settlements
console-preview-streets = Streets
console-preview-empty = The area holds no address: nobody would be told.
console-preview-large = The area holds more than { $count } addresses. Check that it is what you meant.
console-starts-at = Start of the work
console-starts-at-hint = Planned work only: when the work begins.
console-etr-empty-hint = Leave empty when it is not yet assessed.
console-urgent = Urgent (gas leak, unsafe water): sent at once, at any hour
console-urgency = Urgency
console-messages = Extra message (optional)
console-messages-hint = Added to the alert in each language, for instance where a water tanker stands.
console-area = Area (GeoJSON)
console-area-hint = Filled in as you draw. You can also paste a GeoJSON Polygon or MultiPolygon here.
console-area-file = Or upload a GeoJSON file
console-declare-reach = { $addresses } addresses.
console-declare-reach-sms = and { $sms } phone numbers.
console-undo-hint = After you send, the messages wait { $seconds } seconds, so you can still undo.
console-back-edit = Back to the map
console-undo = Undo: send nothing
console-undo-until = The messages start going out at { $time }.
console-undone = Undone: nothing was sent, and the outage is cancelled.
console-declared = Declared.
console-sample-reference = The reference number is drawn when you send; the one below is an example of the same length.
console-failures = Failed for good
console-recipient = To
console-message = Message
console-attempts = Attempts
console-reason = Reason
console-retry-dead = Retry the failed messages

## Replies to text messages (src/inbound.rs). Keywords stay in capitals.
sms-reply-stopped = { $sender }: you will get no more text messages from us. Reply START to get alerts again.
sms-reply-started = { $sender }: outage alerts by text message are on again for your address. Reply STOP to stop them.
sms-reply-started-unknown = { $sender }: we have no address for this number. Sign up for alerts at { $url }
sms-reply-help = { $sender } outage alerts for your address. Reply STATUS for the current status, OUT to report no supply, STOP to stop. Status page: { $url }
sms-reply-unknown-number = We have no address for this number. Check your address at { $url }
sms-reply-none = No known outage at { $place }.
sms-reply-line = { $title }: { $place }. Expected fix: { $etr }. Ref { $reference }
sms-reply-line-planned = { $title }: { $place }, { $starts }. Expected end: { $etr }. Ref { $reference }
sms-reply-ended = { $status ->
    [restored] Outage { $reference } has been fixed.
   *[cancelled] Outage notice { $reference } was cancelled.
}
sms-reply-no-reference = We know of no outage { $reference }. Please check the reference.
sms-reply-did-you-mean = Did you mean { $reference }?
sms-reply-which-service = Which service is out? Reply for example OUT POWER or OUT WATER.
sms-reply-report-known = Thank you. { $line }
sms-reply-report-new = Thank you: we knew of no outage at { $place }; the dispatchers have been told.
sms-reply-report-still-out = Thank you: the dispatchers have been told that { $utility-name } is still out at { $place } after { $reference }.

# The manage page (/manage/{link}): a resident's own settings and data.
email-manage = Manage your alerts
sms-reply-manage = Your settings: { $url }
page-manage-title = Your outage alerts
page-manage-intro = Alerts to { $destination }, for these addresses:
page-manage-receiving = receiving alerts
page-manage-stopped = stopped
page-manage-undeliverable = messages to you bounced; confirm your address again through the sign-up page
page-manage-stop-address = Stop alerts for this address
page-manage-settings = Settings
page-manage-language = Language of the alerts
page-manage-window = Hours you accept alerts
page-manage-window-hint = For example 07:00-21:00, in local time; leave empty for any time. Urgent safety alerts (a gas leak, unsafe water) come at any hour.
page-manage-utilities = Services you want alerts about
page-manage-utilities-hint = Tick none to hear about all of them.
page-manage-save = Save settings
page-manage-saved = Your settings are saved.
page-manage-add = Add another address or SMS alerts
page-manage-stop = Stop everything
page-manage-stop-text = No more alerts to { $destination } at any address. You can sign up again at any time.
page-manage-stop-button = Stop all alerts
page-manage-stopped-all = You will not receive any more alerts at { $destination }.
page-manage-export = Your data
page-manage-export-text = Everything Herald holds about you: your contact details, sign-ups, consent history and the messages sent to you.
page-manage-export-link = Download my data (JSON)
page-manage-delete = Delete my data
page-manage-delete-text = This erases your contact details, sign-ups, consent history and the messages sent to you. Herald keeps only a one-way code of { $destination } so that the utility's customer list cannot add it back.
page-manage-delete-confirm = Yes, delete my data
page-manage-delete-unconfirmed = Tick the box to confirm that you want your data deleted.
page-manage-delete-button = Delete my data
page-manage-deleted-title = Your data is deleted
page-manage-deleted = Herald no longer holds your contact details or the messages sent to you.
page-manage-expired-title = This link has expired
page-manage-expired = For your privacy, links to this page work for a limited time. Use the link in a newer alert e-mail, or text HELP to the alert number for a new one.
page-manage-invalid-title = This link does not work
page-manage-invalid = Check that you copied the whole link, or use the link in a newer alert e-mail.
page-manage-window-invalid = Write the hours like 07:00-21:00, or leave the field empty for any time.
manage-link-subject = Your link to manage outage alerts
manage-link-intro = Someone, hopefully you, asked for a link to manage the outage alerts you receive by { $channel }.
manage-link-action = Open it to change your settings, download your data or delete it:
manage-link-button = Manage my alerts
manage-link-ignore = If this was not you, ignore this message: nothing changes.
manage-link-footer = You receive this message because this address was entered on our outage status page.
manage-link-sms = Manage your outage alerts: { $url } (ignore if it was not you)
page-manage-request-title = Manage your alerts
page-manage-request-intro = Enter the e-mail address or mobile number you receive alerts at. We send it a link to your settings, your data and its deletion.
page-manage-request-label = E-mail address or mobile number
page-manage-request-button = Send me the link
page-manage-request-sent = If { $destination } receives our alerts, a link to manage them is on its way. It may take a few minutes; you can ask up to { $times } times a day.
page-manage-request-invalid = Enter an e-mail address such as name@example.com or a mobile number such as 06 30 123 4567.
page-subscribe-manage = Already receiving alerts? Manage them
page-manage-move = Moved? Take your alerts to another address
page-manage-move-find = Find the new address
page-manage-move-from = Instead of
page-manage-move-button = Move my alerts here
page-manage-moved = Your alerts now go to { $address }.
