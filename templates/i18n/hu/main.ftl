# Herald — magyar katalógus.

## Dátumok és időpontok
month-1 = január
month-2 = február
month-3 = március
month-4 = április
month-5 = május
month-6 = június
month-7 = július
month-8 = augusztus
month-9 = szeptember
month-10 = október
month-11 = november
month-12 = december
date-format = { $year }. { $month } { $day }.
date-time-format = { $date } { $time }
time-today = ma { $time }-kor
time-tomorrow = holnap { $time }-kor
time-yesterday = tegnap { $time }-kor
time-date = { $date } { $time }-kor
etr-unknown = még nincs felmérve

## Közművek
utility-name = { $utility ->
    [power] az áramszolgáltatás
    [water] a vízszolgáltatás
    [gas] a gázszolgáltatás
    [telecom] a telefon- és internetszolgáltatás
    [heating] a távfűtés
   *[sewer] a csatornaszolgáltatás
}
outage-title = { $utility ->
    [power] Áramszünet
    [water] Vízhiány
    [gas] Gázszolgáltatási zavar
    [telecom] Telefon- és internetzavar
    [heating] Távfűtési zavar
   *[sewer] Csatornázási zavar
}
planned-title = { $utility ->
    [power] Tervezett áramszünet
    [water] Tervezett vízszünet
    [gas] Tervezett gázszünet
    [telecom] Tervezett hálózati munka
    [heating] Tervezett távfűtés-szünet
   *[sewer] Tervezett csatornamunka
}

## Címek: egy cím egyetlen olvasata (src/i18n.rs `address`). Utcanév nélküli
## helyen a település és a házszám (vagy helyrajzi szám) a cím.
address-street-short = { $street } { $number }
address-street = { $street } { $number }, { $settlement }
address-street-postal = { $street } { $number }, { $postcode } { $settlement }
address-village = { $settlement } { $number }
address-village-postal = { $postcode } { $settlement } { $number }

## Címkék
label-address = Cím
label-cause = Ok
label-etr = Várható helyreállítás
label-starts = Kezdete
label-reference = Azonosító
label-details = Részletek és frissítések
label-message = Az üzemeltető üzenete

## E-mail
email-declared-subject = { $title }: { $place } ({ $reference })
email-updated-subject = Frissítés — { $title }: { $place } ({ $reference })
email-restored-subject = Helyreállt — { $place } ({ $reference })
email-cancelled-subject = Visszavonva — { $title }: { $place } ({ $reference })
email-withdrawn-subject = Már nem érinti — { $title } ({ $reference })
declared-intro = Üzemzavar érinti az Ön címét.
declared-planned-intro = Tervezett munka fogja érinteni az Ön címét.
updated-intro = Új információ érhető el az Ön címét érintő üzemzavarról.
restored-intro = Az Ön címét érintő üzemzavar véget ért, { $utility-name } helyreállt.
cancelled-intro = Az Ön címére küldött üzemzavar-értesítést visszavontuk, kérjük, tekintse tárgytalannak.
cancelled-planned-intro = Az Ön címét érintő tervezett munka elmarad.
withdrawn-intro = Jó hír: az üzemzavar már nem érinti az Ön címét.
email-quote-reference = Ha felhív minket, kérjük, hivatkozzon erre az azonosítóra: { $reference }.
email-footer = Azért kapja ezeket az értesítéseket, mert ez a cím fel van iratkozva az üzemzavar-értesítésekre.
email-unsubscribe = Leiratkozás az értesítésekről

## SMS
sms-declared = { $title }: { $place }. Ok: { $cause }. Várható helyreállítás: { $etr }. Azon.: { $reference } { $url }
sms-declared-short = { $title }: { $place }. Várható helyreállítás: { $etr }. Azon.: { $reference } { $url }
sms-declared-planned = { $title }: { $place }, { $starts }. Várható vége: { $etr }. Azon.: { $reference } { $url }
sms-updated = Frissítés, { $title }: { $place }. Várható helyreállítás: { $etr }. Azon.: { $reference } { $url }
sms-restored = Helyreállt { $utility-name }: { $place }. Azon.: { $reference }
sms-cancelled = Tárgytalan: { $reference } értesítés ({ $place }) visszavonva.
sms-withdrawn = A(z) { $reference } üzemzavar már nem érinti: { $place }.

## Oldalak
page-unsubscribe-title = Leiratkozás az üzemzavar-értesítésekről
page-unsubscribe-question = Ne küldjünk több értesítést a(z) { $address } címről ide: { $destination }?
page-unsubscribe-button = Leiratkozás
page-unsubscribed = A(z) { $destination } címre nem küldünk több üzemzavar-értesítést.
page-not-found = Nem található
page-outage-history = Frissítések
page-status-active = Folyamatban
page-status-scheduled = Ütemezve
page-status-restored = Helyreállt
page-status-cancelled = Visszavonva
page-affected-addresses = Érintett címek: { $count }
page-last-update = Utolsó frissítés: { $time }
page-history-time = Időpont

## IVR: felolvasásra szánt mondatok; az időpontok úgy, ahogy mondjuk őket
spoken-clock = { $minute ->
    [0] { $hour } órakor
   *[other] { $hour } óra { $minute } perckor
}
spoken-today = ma { $clock }
spoken-tomorrow = holnap { $clock }
spoken-yesterday = tegnap { $clock }
spoken-date = { $date } { $clock }
ivr-etr-at = A hibát várhatóan { $when } elhárítjuk.
ivr-etr-unknown = A helyreállítás idejét még nem mértük fel.
ivr-etr-overdue = A javítás a vártnál tovább tart, hamarosan új időpontot adunk.
ivr-outage = { $title }: { $place }. { $etr-sentence } Az azonosító: { $reference }.
ivr-planned = { $title }: { $place }. Kezdete { $starts }, várható vége { $when }. Az azonosító: { $reference }.
ivr-none = Nincs ismert üzemzavar itt: { $place }.
ivr-unknown = Ehhez a telefonszámhoz nem találtunk címet.
ivr-hint = Ha egy adott címről szeretne hallani, kérjük, adja meg az irányítószámát.
ivr-place-postcode = { $postcode } irányítószám
ivr-place-here = az Ön környéke
ivr-place-caller = az Ön címe ({ $settlement })
ivr-menu-repeat = Az ismétléshez nyomja meg az egyes gombot.
ivr-menu-sms = Ha SMS-ben is kéri erre a számra, nyomja meg a kettes gombot.
ivr-sms-sent = Hamarosan SMS-t küldünk. Viszonthallásra.

## Állapotoldalak
site-name = Üzemzavarok
page-skip = Ugrás a tartalomra
nav-label = Fő
nav-home = Aktuális üzemzavarok
nav-planned = Tervezett munkák
page-language = Nyelv
page-footer = Az oldal magától frissül. Az időpontok helyi idő szerint értendők. Ha felhív minket, adja meg az azonosítót.
page-home-title = Aktuális üzemzavarok és tervezett munkák
page-active = Jelenlegi üzemzavarok
page-planned = Tervezett munkák
page-none-active = Jelenleg nincs ismert üzemzavar.
page-none-planned = Nincs tervezett munka.
page-addresses = Érintett címek
page-updated = Utolsó frissítés
page-where = Hol
page-search-title = Érint engem?
page-search-label = Az Ön címe vagy az azonosító
page-search-placeholder = pl. Kossuth Lajos utca 12, Budapest
page-search-button = Ellenőrzés
page-search-results = Találatok
page-search-none = Nem találtuk ezt a címet. Ellenőrizze a helyesírást, vagy adja meg a települést is.
page-not-affected = Nincs ismert üzemzavar
page-history-status = Állapot
page-more = Továbbiak
page-check-address = Másik cím ellenőrzése
page-format-json = Ez az állapot JSON formátumban
page-format-text = Ez az állapot egyszerű szövegként
page-map-title = Az érintett terület térképe
page-map-desc = A körvonal az érintett területet mutatja; a pontok a(z) { $count } érintett cím.
page-map-caption = Érintett terület: { $places }. Léptékvonal: { $scale }.
language-name = Magyar

## Feliratkozás az állapotoldalon (kétlépcsős megerősítés)
channel-email = e-mail
channel-sms = SMS
confirm-subject = Üzemzavar-értesítések megerősítése: { $address }
confirm-intro = Valaki, remélhetőleg Ön, üzemzavar-értesítést kért { $channel } formájában erre a címre: { $address }.
confirm-action = Az értesítések indításához 24 órán belül nyissa meg ezt a hivatkozást:
confirm-button = Feliratkozás megerősítése
confirm-ignore = Ha nem Ön kérte, hagyja figyelmen kívül ezt az üzenetet: több üzenetet nem küldünk.
confirm-footer = Azért kapja ezt az üzenetet, mert ezt a címet megadták az üzemzavar-tájékoztató oldalunkon.
confirm-sms = Üzemzavar-értesítés: { $address }. Megerősítés: { $url } (ha nem Ön kérte, hagyja figyelmen kívül)
page-subscribe-title = Üzemzavar-értesítés kérése
page-subscribe-link = Értesítést kérek erre a címre
page-report-summary = Nincs szolgáltatás itt? Jelezze nekünk
page-report-utility = Melyik szolgáltatás szünetel
page-report-button = Szolgáltatáskiesés bejelentése erre a címre
page-report-title = Köszönjük a bejelentést
page-report-known = Tudunk róla: a(z) { $reference } üzemzavar érinti ezt a címet: { $place }. Az oldalán látja a várható helyreállítást.
page-report-new = Továbbítottuk: a diszpécserek a térképükön látják a bejelentését ({ $place }). Itt eddig nem tudtunk üzemzavarról.
page-report-still-out = Továbbítottuk: a(z) { $reference } üzemzavart helyreállítottnak jelentettük, és a diszpécserek most látják, hogy itt továbbra sincs szolgáltatás: { $place }.
page-report-slow-down = Túl sok bejelentés érkezett innen; kérjük, próbálja újra { $minutes } perc múlva.
page-subscribe-intro = E-mailt vagy SMS-t küldünk, ha üzemzavar vagy tervezett munka érinti a címét, ha változik a várható helyreállítás ideje, és amikor a szolgáltatás helyreállt.
page-subscribe-find = Keresse meg a címét
page-subscribe-pick = Válassza ki a címét
page-subscribe-address = Cím
page-subscribe-change = Másik cím választása
page-subscribe-channel = Értesítés módja
page-subscribe-destination = E-mail-cím vagy mobilszám
page-subscribe-destination-hint = SMS-hez mobilszám, például +36 30 123 4567.
page-subscribe-language = Az értesítések nyelve
page-subscribe-consent = Elérhetőségét csak az erre a címre vonatkozó üzemzavar-értesítésekhez használjuk. Minden üzenetben van leiratkozási hivatkozás.
page-subscribe-button = Feliratkozom
page-subscribe-sent-title = Nézze meg az üzeneteit
page-subscribe-sent = Megerősítő hivatkozást küldtünk ide: { $destination }. Nyissa meg 24 órán belül, és értesítést kap a következő címről: { $address }.
page-subscribe-too-many = Ma már túl sok kérés érkezett ehhez: { $destination }. Kérjük, próbálja újra holnap.
page-subscribe-slow-down = Az Ön hálózatáról túl sok feliratkozás érkezett. Kérjük, próbálja újra { $minutes } perc múlva.
page-subscribe-sms-busy = Most nem tudunk több megerősítő SMS-t küldeni. Kérjük, próbálja újra { $minutes } perc múlva, vagy iratkozzon fel e-mailben.
page-error-summary = Kérjük, javítsa a következőket:
page-error-address = Válasszon címet a listából.
page-error-channel = Válasszon e-mailt vagy SMS-t.
page-error-email = Adjon meg egy e-mail-címet, például nev@example.com.
page-error-phone = Adjon meg egy mobilszámot, például +36 30 123 4567.
page-error-phone-country = SMS-t csak ezekbe az országokba tudunk küldeni: { $countries }.
page-error-language = Válasszon nyelvet.
page-confirm-title = Üzemzavar-értesítések megerősítése
page-confirm-question = Küldjünk üzemzavar-értesítéseket a(z) { $address } címről ide: { $destination }?
page-confirm-button = Igen, kérem az értesítéseket
page-confirmed = Kész: a(z) { $address } címet érintő üzemzavarokról ide küldünk értesítést: { $destination }. Minden üzenetben van leiratkozási hivatkozás.
page-confirmed-queued = Jelenleg üzemzavar érinti ezt a címet; a részleteket elküldtük Önnek.
page-confirm-expired = Ez a hivatkozás lejárt. Kérjük, iratkozzon fel újra.
page-confirm-already = Ez a feliratkozás már meg van erősítve.

## Diszpécserkonzol
console-name = Herald konzol
console-nav = Konzol
console-outages = Üzemzavarok
console-audit = Műveleti napló
console-audit-csv = Letöltés CSV-ként
console-signed-in-as = Bejelentkezve: { $name }
console-sign-out = Kijelentkezés
console-sign-out-everywhere = Kijelentkezés mindenhol
console-login-title = Bejelentkezés
console-username = Felhasználónév
console-password = Jelszó
console-sign-in = Bejelentkezés
console-login-refused = Hibás felhasználónév vagy jelszó, vagy túl sok próbálkozás. Várjon egy percet, és próbálja újra.
console-login-expired = A bejelentkezési űrlap lejárt. Kérjük, jelentkezzen be újra.
console-role-viewer = megtekintő
console-role-dispatcher = diszpécser
console-role-supervisor = felügyelő
console-role-operator = operátor
console-role-ivr = IVR
console-status = Állapot
console-utility = Szolgáltatás
console-any = bármely
console-filter = Mutasd
console-no-outages = Nincs a szűrésnek megfelelő üzemzavar.
console-outage-count = { $count } üzemzavar, a legújabb elöl
console-reference = Hivatkozási szám
console-cause = Ok
console-etr = Várható helyreállítás
console-addresses = Címek
console-updated = Frissítve
console-time = Idő
console-who = Ki
console-action = Művelet
console-subject = Tárgy
console-details = Részletek
console-client = Kliens címe
console-kind = Típus
console-kind-unplanned = váratlan üzemzavar
console-kind-planned = tervezett munka
console-public-page = Nyilvános oldal
console-deliveries = Üzenetek
console-channel = Csatorna
console-channel-email = e-mail
console-channel-sms = SMS
console-pending = Várakozik
console-sent = Elküldve
console-failed = Sikertelen
console-change = Módosítás
console-change-hint = Minden módosításnál előbb látja, mit és hány embernek küld.
console-etr-plus-30m = +30 perc
console-etr-plus-1h = +1 óra
console-etr-plus-2h = +2 óra
console-etr-unknown = Még nincs felmérve
console-etr-custom = Más időpont
console-review = Ellenőrzés
console-new-cause = Új ok
console-end = Lezárás
console-restore = Helyreállt, lezárom
console-cancel = Üzemzavar törlése
console-history = Előzmények
console-change-declared = bejelentve
console-change-updated = módosítva
console-change-started = megkezdődött
console-change-restored = helyreállt
console-change-cancelled = törölve
console-change-applied = A módosítás megtörtént; az üzenetek úton vannak.
console-review-title = Ellenőrzés küldés előtt
console-review-restore = Állapot: helyreállt. Mindenki, akit értesítettünk, megtudja, hogy vége.
console-review-cancel = Állapot: törölve. Mindenki, akit értesítettünk, megtudja, hogy elmarad.
console-review-message = A további üzenet megváltozik: aki már értesítést kapott, újra megkapja vele együtt.
console-area-change = Terület
console-area-redraw = A terület újrarajzolása a térképen
console-extend = A terület kiterjesztése a közvetlenül mellette bejelentett { $count } szolgáltatáskiesésre
console-area-now = Az üzemzavar most { $count } címet érint.
console-review-area = Terület: { $before } → { $after } cím ({ $added } új, { $removed } kimarad).
console-review-area-reach = Az új címek { $email } e-mail címe és { $sms } telefonszáma értesítést kap az üzemzavarról; aki a kimaradó { $removed } címen már értesítést kapott, megtudja, hogy már nem érinti.
console-review-reach = Küldés { $email } e-mail-címre
console-review-reach-sms = és { $sms } telefonszámra, amelyeket már értesítettünk erről az üzemzavarról.
console-review-queued = { $count } még várakozó üzenet már az új állapotot közli majd.
console-sms-count = { $units } karakter
console-sms-segments = { $segments } SMS
console-email = E-mail
console-ivr = Telefonos rendszer
console-confirm = Küldés
console-back = Vissza, nem módosítok
console-deliveries-csv = Az összes üzenet letöltése CSV-ként
console-calls = Kik telefonáltak, mielőtt értesítést kaptak
console-calls-hint = Azok a telefonálók, akiknek a címét ez az üzemzavar érinti, és hogy az első hívásuk előtt kapott-e már a számuk üzenetet róla.
console-calls-callers = Telefonálók
console-calls-told = Hívás előtt értesítve
console-calls-share = Hívás előtt értesítettek aránya
console-calls-lead = Az üzenet és a hívás közti idő mediánja
console-reports = Lakossági hiánybejelentések
console-reports-inside = A területen, nyitott üzemzavar alatt
console-reports-still-out = A helyreállítás után egy napon belül is hiány
console-reports-still-out-last = { $count }, legutóbb { $time }
console-calls-none = még nincs
console-duration-under-minute = egy percen belül
console-duration-minutes = { $minutes } perc
console-duration-hours = { $hours } óra { $minutes } perc
console-live-updated = Adatok ekkor: { $time }
console-live-changed = Az üzemzavar megváltozott, mióta az oldal betöltődött.
console-live-reload = Oldal újratöltése
console-new = Üzemzavar bejelentése
console-new-title = Üzemzavar bejelentése
console-map-label = Térkép: rajzolja meg az üzemzavar területét
console-map-hint = A területet a térkép bal felső sarkában lévő eszközökkel rajzolja meg: sokszög vagy téglalap, lyuk kivágása, sarokpontok szerkesztése, törlés. Egér nélkül illessze be a területet GeoJSON-ként alább, vagy töltsön fel egy fájlt. A kék pontok címek (a nagyobb, halványabb pontok sok címet jelölnek); a szaggatott körvonalak a nyitott üzemzavarok.
console-preview = Kiket érint
console-preview-email = E-mail kapcsolatok
console-preview-sms = SMS kapcsolatok
console-preview-settlements = Települések
console-preview-streets = Utcák
console-preview-empty = A területen nincs cím: senki sem kapna értesítést.
console-preview-large = A területen több mint { $count } cím van. Ellenőrizze, hogy ezt szándékozta-e.
console-starts-at = A munka kezdete
console-starts-at-hint = Csak tervezett munkánál: mikor kezdődik a munka.
console-etr-empty-hint = Hagyja üresen, ha még nincs felmérve.
console-urgent = Sürgős (gázszivárgás, nem iható víz): azonnal, napszaktól függetlenül kimegy
console-urgency = Sürgősség
console-messages = További üzenet (nem kötelező)
console-messages-hint = Minden nyelven a riasztáshoz fűzzük, például hogy hol áll a lajtoskocsi.
console-area = Terület (GeoJSON)
console-area-hint = Rajzolás közben kitöltődik. Ide GeoJSON Polygon vagy MultiPolygon is beilleszthető.
console-area-file = Vagy töltsön fel egy GeoJSON-fájlt
console-declare-reach = { $addresses } cím.
console-declare-reach-sms = és { $sms } telefonszám.
console-undo-hint = Küldés után az üzenetek { $seconds } másodpercet várnak, addig még visszavonhatja.
console-back-edit = Vissza a térképhez
console-undo = Visszavonás: ne menjen ki semmi
console-undo-until = Az üzenetek { $time }-kor kezdenek kimenni.
console-undone = Visszavonva: semmi sem ment ki, az üzemzavar törölve.
console-declared = Bejelentve.
console-sample-reference = Az azonosító küldéskor készül; az alábbi egy azonos hosszúságú minta.
console-failures = Véglegesen sikertelen
console-recipient = Címzett
console-message = Üzenet
console-attempts = Próbálkozások
console-reason = Ok
console-retry-dead = A sikertelen üzenetek újraküldése

## Válaszok SMS-ekre (src/inbound.rs). A kulcsszavak nagybetűsek maradnak.
sms-reply-stopped = { $sender }: több SMS-t nem küldünk. Ha újra kéri az értesítéseket, küldje el: START
sms-reply-started = { $sender }: az SMS-értesítés újra bekapcsolva a címére. Leiratkozás: STOP
sms-reply-started-unknown = { $sender }: ehhez a számhoz nincs címünk. Feliratkozás: { $url }
sms-reply-help = { $sender } üzemzavar-értesítés a címére. ÁLLAPOT: a mostani helyzet, NINCS: hiány bejelentése, STOP: leiratkozás. Állapotoldal: { $url }
sms-reply-unknown-number = Ehhez a számhoz nincs címünk. Címét itt ellenőrizheti: { $url }
sms-reply-none = Nem tudunk üzemzavarról itt: { $place }.
sms-reply-line = { $title }: { $place }. Várható helyreállítás: { $etr }. Azon.: { $reference }
sms-reply-line-planned = { $title }: { $place }, { $starts }. Várható vége: { $etr }. Azon.: { $reference }
sms-reply-ended = { $status ->
    [restored] A(z) { $reference } üzemzavar elhárult.
   *[cancelled] A(z) { $reference } értesítés tárgytalan, visszavontuk.
}
sms-reply-no-reference = Nem ismerünk { $reference } azonosítójú üzemzavart. Kérjük, ellenőrizze az azonosítót.
sms-reply-did-you-mean = Erre gondolt: { $reference }?
sms-reply-which-service = Melyik szolgáltatás hiányzik? Küldje el például: NINCS ÁRAM vagy NINCS VÍZ
sms-reply-report-known = Köszönjük. { $line }
sms-reply-report-new = Köszönjük: nem tudtunk üzemzavarról itt: { $place }; a diszpécsereket értesítettük.
sms-reply-report-still-out = Köszönjük: jeleztük a diszpécsereknek, hogy { $utility-name } a(z) { $reference } után is szünetel itt: { $place }.

# The manage page (/manage/{link}): a resident's own settings and data.
email-manage = Értesítések kezelése
sms-reply-manage = Beállítások: { $url }
page-manage-title = Üzemzavar-értesítései
page-manage-intro = Értesítések a(z) { $destination } címre, ezekről a címekről:
page-manage-receiving = értesítést kap
page-manage-stopped = leállítva
page-manage-undeliverable = az üzenetek visszapattantak; erősítse meg újra a címét a feliratkozó oldalon
page-manage-stop-address = Értesítések leállítása erre a címre
page-manage-settings = Beállítások
page-manage-language = Az értesítések nyelve
page-manage-window = Mikor kér értesítést
page-manage-window-hint = Például 07:00-21:00, helyi idő szerint; üresen hagyva bármikor. A sürgős biztonsági értesítések (gázszivárgás, ihatatlan víz) bármikor érkeznek.
page-manage-utilities = Mely szolgáltatásokról kér értesítést
page-manage-utilities-hint = Ha egyiket sem jelöli, mindegyikről.
page-manage-save = Beállítások mentése
page-manage-saved = A beállításait elmentettük.
page-manage-add = Másik cím vagy SMS-értesítés hozzáadása
page-manage-stop = Minden leállítása
page-manage-stop-text = Egyetlen címről sem küldünk több értesítést a(z) { $destination } címre. Bármikor újra feliratkozhat.
page-manage-stop-button = Minden értesítés leállítása
page-manage-stopped-all = A(z) { $destination } címre nem küldünk több értesítést.
page-manage-export = Az Ön adatai
page-manage-export-text = Minden, amit a Herald Önről tárol: elérhetősége, feliratkozásai, hozzájárulásainak története és a küldött üzenetek.
page-manage-export-link = Adataim letöltése (JSON)
page-manage-delete = Adataim törlése
page-manage-delete-text = Töröljük elérhetőségét, feliratkozásait, hozzájárulásainak történetét és a küldött üzeneteket. A Herald csak a(z) { $destination } egyirányú kódját őrzi meg, hogy a szolgáltató ügyféllistája ne vehesse fel újra.
page-manage-delete-confirm = Igen, törölják az adataimat
page-manage-delete-unconfirmed = Jelölje be a négyzetet, ha kéri adatai törlését.
page-manage-delete-button = Adataim törlése
page-manage-deleted-title = Adatait töröltük
page-manage-deleted = A Herald nem tárolja többé elérhetőségét és a küldött üzeneteket.
page-manage-expired-title = Ez a hivatkozás lejárt
page-manage-expired = Adatai védelmében az oldalra mutató hivatkozások csak egy ideig működnek. Használja egy újabb értesítő e-mail hivatkozását, vagy küldjön SEGÍTSÉG üzenetet az értesítések számára.
page-manage-invalid-title = Ez a hivatkozás nem működik
page-manage-invalid = Ellenőrizze, hogy a teljes hivatkozást másolta-e, vagy használja egy újabb értesítő e-mail hivatkozását.
page-manage-window-invalid = Az időszakot így írja: 07:00-21:00, vagy hagyja üresen, ha bármikor kér értesítést.
manage-link-subject = Hivatkozás az üzemzavar-értesítések kezeléséhez
manage-link-intro = Valaki, remélhetőleg Ön, hivatkozást kért a(z) { $channel } útján kapott üzemzavar-értesítések kezeléséhez.
manage-link-action = Nyissa meg a beállításai módosításához, adatai letöltéséhez vagy törléséhez:
manage-link-button = Értesítéseim kezelése
manage-link-ignore = Ha nem Ön kérte, hagyja figyelmen kívül ezt az üzenetet: semmi sem változik.
manage-link-footer = Azért kapja ezt az üzenetet, mert ezt a címet megadták az üzemzavar-állapotoldalunkon.
manage-link-sms = Üzemzavar-értesítései kezelése: { $url } (ha nem Ön kérte, hagyja figyelmen kívül)
page-manage-request-title = Értesítései kezelése
page-manage-request-intro = Adja meg az e-mail-címet vagy mobilszámot, amelyre az értesítéseket kapja. Hivatkozást küldünk rá a beállításaihoz, adataihoz és azok törléséhez.
page-manage-request-label = E-mail-cím vagy mobilszám
page-manage-request-button = Kérem a hivatkozást
page-manage-request-sent = Ha a(z) { $destination } kapja értesítéseinket, úton van a kezelésükhöz szükséges hivatkozás. Néhány percig tarthat; naponta legfeljebb { $times } alkalommal kérhet.
page-manage-request-invalid = Adjon meg egy e-mail-címet (például nev@pelda.hu) vagy mobilszámot (például 06 30 123 4567).
page-subscribe-manage = Már kap értesítést? Itt kezelheti
page-manage-move = Elköltözött? Vigye át értesítéseit egy másik címre
page-manage-move-find = Az új cím keresése
page-manage-move-from = Ehelyett
page-manage-move-button = Értesítéseim áthelyezése ide
page-manage-moved = Értesítéseit mostantól erre a címre kapja: { $address }.
