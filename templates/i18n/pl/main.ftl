# Herald — katalog polski.

## Daty i godziny (miesiące w dopełniaczu: "23 listopada")
month-1 = stycznia
month-2 = lutego
month-3 = marca
month-4 = kwietnia
month-5 = maja
month-6 = czerwca
month-7 = lipca
month-8 = sierpnia
month-9 = września
month-10 = października
month-11 = listopada
month-12 = grudnia
date-format = { $day } { $month } { $year }
date-time-format = { $date }, { $time }
time-today = dziś o { $time }
time-tomorrow = jutro o { $time }
time-yesterday = wczoraj o { $time }
time-date = { $date } o { $time }
etr-unknown = jeszcze nieustalony

## Media
utility-name = { $utility ->
    [power] prąd
    [water] woda
    [gas] gaz
    [telecom] telefon i internet
    [heating] ogrzewanie
   *[sewer] kanalizacja
}
outage-title = { $utility ->
    [power] Przerwa w dostawie prądu
    [water] Przerwa w dostawie wody
    [gas] Przerwa w dostawie gazu
    [telecom] Awaria telefonu i internetu
    [heating] Przerwa w dostawie ciepła
   *[sewer] Awaria kanalizacji
}
planned-title = { $utility ->
    [power] Planowane wyłączenie prądu
    [water] Planowane wyłączenie wody
    [gas] Planowane wyłączenie gazu
    [telecom] Planowane prace sieciowe
    [heating] Planowane wyłączenie ogrzewania
   *[sewer] Planowane prace kanalizacyjne
}

## Adresy: jedyny sposób zapisu adresu (src/i18n.rs `address`). Miejscowość
## bez ulic: nazwa miejscowości i numer domu.
address-street-short = { $street } { $number }
address-street = { $street } { $number }, { $settlement }
address-street-postal = { $street } { $number }, { $postcode } { $settlement }
address-village = { $settlement } { $number }
address-village-postal = { $settlement } { $number }, { $postcode }

## Etykiety
label-address = Adres
label-cause = Przyczyna
label-etr = Przewidywane usunięcie
label-starts = Początek
label-reference = Numer zgłoszenia
label-details = Szczegóły i aktualizacje
label-message = Komunikat operatora

## E-mail
email-declared-subject = { $title }: { $place } ({ $reference })
email-updated-subject = Aktualizacja — { $title }: { $place } ({ $reference })
email-restored-subject = Przywrócono — { $place } ({ $reference })
email-cancelled-subject = Odwołano — { $title }: { $place } ({ $reference })
email-withdrawn-subject = Już nie dotyczy — { $title } ({ $reference })
declared-intro = Pod Twoim adresem wystąpiła awaria.
declared-planned-intro = Pod Twoim adresem zaplanowano prace.
updated-intro = Mamy nowe informacje o awarii pod Twoim adresem.
restored-intro = Awaria pod Twoim adresem została usunięta, usługa działa ponownie.
cancelled-intro = Powiadomienie o awarii pod Twoim adresem zostało odwołane; prosimy je zignorować.
cancelled-planned-intro = Planowane prace pod Twoim adresem zostały odwołane.
withdrawn-intro = Dobra wiadomość: awaria już nie dotyczy Twojego adresu.
email-quote-reference = Dzwoniąc do nas, podaj numer zgłoszenia { $reference }.
email-footer = Otrzymujesz te powiadomienia, ponieważ ten adres jest zapisany na powiadomienia o awariach.
email-unsubscribe = Wypisz się z powiadomień

## SMS
sms-declared = { $title }: { $place }. Przyczyna: { $cause }. Usunięcie: { $etr }. Nr { $reference } { $url }
sms-declared-short = { $title }: { $place }. Usunięcie: { $etr }. Nr { $reference } { $url }
sms-declared-planned = { $title }: { $place }, { $starts }. Koniec: { $etr }. Nr { $reference } { $url }
sms-updated = Aktualizacja, { $title }: { $place }. Usunięcie: { $etr }. Nr { $reference } { $url }
sms-restored = Przywrócono: { $utility-name }, { $place }. Nr { $reference }
sms-cancelled = Odwołano powiadomienie { $reference } dla { $place }.
sms-withdrawn = Awaria { $reference } już nie dotyczy { $place }.

## Strony
page-unsubscribe-title = Wypisz się z powiadomień o awariach
page-unsubscribe-question = Przestać wysyłać powiadomienia dla adresu { $address } na { $destination }?
page-unsubscribe-button = Wypisz się
page-unsubscribed = Nie będziemy już wysyłać powiadomień o awariach na { $destination }.
page-not-found = Nie znaleziono
page-outage-history = Aktualizacje
page-status-active = W toku
page-status-scheduled = Zaplanowane
page-status-restored = Przywrócono
page-status-cancelled = Odwołano
page-affected-addresses = Objęte adresy: { $count }
page-last-update = Ostatnia aktualizacja: { $time }
page-history-time = Czas

## IVR: zdania do odczytania; godziny tak, jak się je mówi
spoken-clock = { $hour }:{ $minute2 }
spoken-today = dziś o { $clock }
spoken-tomorrow = jutro o { $clock }
spoken-yesterday = wczoraj o { $clock }
spoken-date = { $date } o { $clock }
ivr-etr-at = Przewidujemy usunięcie awarii { $when }.
ivr-etr-unknown = Czas usunięcia awarii nie został jeszcze ustalony.
ivr-etr-overdue = Naprawa trwa dłużej, niż przewidywaliśmy; wkrótce podamy nowy termin.
ivr-outage = { $title }: { $place }. { $etr-sentence } Numer zgłoszenia: { $reference }.
ivr-planned = { $title }: { $place }. Początek { $starts }, przewidywany koniec { $when }. Numer zgłoszenia: { $reference }.
ivr-none = Nie mamy informacji o awarii: { $place }.
ivr-unknown = Nie znaleźliśmy adresu dla tego numeru.
ivr-hint = Aby usłyszeć informacje o konkretnym adresie, wprowadź kod pocztowy.
ivr-place-postcode = kod pocztowy { $postcode }
ivr-place-here = Twoja okolica
ivr-place-caller = Twój adres ({ $settlement })
ivr-menu-repeat = Aby odsłuchać ponownie, naciśnij 1.
ivr-menu-sms = Aby otrzymać tę informację SMS-em na ten numer, naciśnij 2.
ivr-sms-sent = Wkrótce wyślemy SMS. Do widzenia.

## Strony statusu
site-name = Awarie i wyłączenia
page-skip = Przejdź do treści
nav-label = Główna
nav-home = Bieżące awarie
nav-planned = Planowane prace
page-language = Język
page-footer = Strona odświeża się sama. Godziny podano czasu lokalnego. Dzwoniąc do nas, podaj numer zgłoszenia.
page-home-title = Bieżące awarie i planowane prace
page-active = Trwające awarie
page-planned = Planowane prace
page-none-active = Obecnie nie ma znanych awarii.
page-none-planned = Brak zaplanowanych prac.
page-addresses = Objęte adresy
page-updated = Ostatnia aktualizacja
page-where = Gdzie
page-search-title = Czy mnie to dotyczy?
page-search-label = Twój adres lub numer zgłoszenia
page-search-placeholder = np. ul. Długa 5, Gdańsk
page-search-button = Sprawdź
page-search-results = Wyniki
page-search-none = Nie znaleźliśmy tego adresu. Sprawdź pisownię lub dodaj miejscowość.
page-not-affected = Brak znanych awarii
page-history-status = Stan
page-more = Więcej
page-check-address = Sprawdź inny adres
page-format-json = Ten status w formacie JSON
page-format-text = Ten status jako zwykły tekst
page-map-title = Mapa obszaru awarii
page-map-desc = Obrys pokazuje obszar awarii; kropki to objęte adresy ({ $count }).
page-map-caption = Obszar awarii: { $places }. Podziałka: { $scale }.
language-name = Polski

## Zapisy na stronie statusu (podwójne potwierdzenie)
channel-email = e-mail
channel-sms = SMS
confirm-subject = Potwierdź powiadomienia o awariach: { $address }
confirm-intro = Ktoś, mamy nadzieję, że Ty, poprosił o powiadomienia o awariach przez { $channel } dla adresu { $address }.
confirm-action = Aby zacząć je otrzymywać, otwórz ten link w ciągu 24 godzin:
confirm-button = Potwierdzam zapis
confirm-ignore = Jeśli to nie Ty, zignoruj tę wiadomość: nic więcej nie wyślemy.
confirm-footer = Otrzymujesz tę wiadomość, ponieważ ten adres podano na naszej stronie statusu awarii.
confirm-sms = Powiadomienia o awariach: { $address }. Potwierdź: { $url } (zignoruj, jeśli to nie Ty)
page-subscribe-title = Powiadomienia o awariach
page-subscribe-link = Powiadamiaj mnie o tym adresie
page-report-summary = Brak usługi pod tym adresem? Daj nam znać
page-report-utility = Której usługi brakuje
page-report-button = Zgłoś brak usługi pod tym adresem
page-report-title = Dziękujemy za zgłoszenie
page-report-known = Wiemy o tym: awaria { $reference } obejmuje { $place }. Na jej stronie jest przewidywany czas usunięcia.
page-report-new = Przekazaliśmy dalej: dyspozytorzy widzą Twoje zgłoszenie ({ $place }) na swojej mapie. Nie wiedzieliśmy jeszcze o awarii w tym miejscu.
page-report-still-out = Przekazaliśmy: awaria { $reference } została zgłoszona jako usunięta, a dyspozytorzy widzą teraz, że pod adresem { $place } nadal brak dostawy.
page-report-slow-down = Zbyt wiele zgłoszeń z tego miejsca; spróbuj ponownie za { $minutes } min.
page-subscribe-intro = Wyślemy e-mail lub SMS, gdy awaria lub planowane prace obejmą Twój adres, gdy zmieni się przewidywany czas usunięcia i gdy usługa wróci.
page-subscribe-find = Znajdź swój adres
page-subscribe-pick = Wybierz swój adres
page-subscribe-address = Adres
page-subscribe-change = Wybierz inny adres
page-subscribe-channel = Sposób powiadamiania
page-subscribe-destination = Adres e-mail lub numer komórkowy
page-subscribe-destination-hint = Dla SMS numer komórkowy, np. +48 601 234 567.
page-subscribe-language = Język powiadomień
page-subscribe-consent = Twój kontakt wykorzystamy tylko do powiadomień o awariach pod tym adresem. Każda wiadomość zawiera link do rezygnacji.
page-subscribe-button = Zapisz mnie
page-subscribe-sent-title = Sprawdź wiadomości
page-subscribe-sent = Wysłaliśmy link potwierdzający na { $destination }. Otwórz go w ciągu 24 godzin, aby otrzymywać powiadomienia dla adresu { $address }.
page-subscribe-too-many = Dziś było już zbyt wiele prób dla { $destination }. Spróbuj ponownie jutro.
page-subscribe-slow-down = Z Twojej sieci przyszło zbyt wiele zapisów. Spróbuj ponownie za { $minutes } min.
page-subscribe-sms-busy = Nie możemy teraz wysłać więcej SMS-ów z potwierdzeniem. Spróbuj ponownie za { $minutes } min albo zapisz się przez e-mail.
page-error-summary = Popraw następujące pola:
page-error-address = Wybierz adres z listy.
page-error-channel = Wybierz e-mail lub SMS.
page-error-email = Podaj adres e-mail, np. imie@example.com.
page-error-phone = Podaj numer komórkowy, np. +48 601 234 567.
page-error-phone-country = SMS-y wysyłamy tylko na numery z krajów: { $countries }.
page-error-language = Wybierz język.
page-confirm-title = Potwierdź powiadomienia o awariach
page-confirm-question = Wysyłać powiadomienia o awariach dla adresu { $address } na { $destination }?
page-confirm-button = Tak, chcę otrzymywać powiadomienia
page-confirmed = Gotowe: powiadomienia o awariach dla adresu { $address } będą wysyłane na { $destination }. Każda wiadomość zawiera link do rezygnacji.
page-confirmed-queued = Pod tym adresem trwa teraz awaria; szczegóły są już w drodze.
page-confirm-expired = Ten link wygasł. Zapisz się ponownie.
page-confirm-already = Ten zapis jest już potwierdzony.

## Konsola dyspozytora
console-name = Konsola Herald
console-nav = Konsola
console-outages = Awarie
console-audit = Dziennik zdarzeń
console-audit-csv = Pobierz jako CSV
console-signed-in-as = Zalogowano jako { $name }
console-sign-out = Wyloguj
console-sign-out-everywhere = Wyloguj wszędzie
console-login-title = Logowanie
console-username = Nazwa użytkownika
console-password = Hasło
console-sign-in = Zaloguj
console-login-refused = Błędna nazwa użytkownika lub hasło albo zbyt wiele prób. Odczekaj minutę i spróbuj ponownie.
console-login-expired = Formularz logowania wygasł. Zaloguj się ponownie.
console-role-viewer = przeglądający
console-role-dispatcher = dyspozytor
console-role-supervisor = kierownik zmiany
console-role-operator = operator
console-role-ivr = IVR
console-status = Stan
console-utility = Usługa
console-any = dowolna
console-filter = Pokaż
console-no-outages = Brak awarii spełniających kryteria.
console-outage-count = Awarie: { $count }, najnowsze na górze
console-reference = Numer referencyjny
console-cause = Przyczyna
console-etr = Przewidywane usunięcie
console-addresses = Adresy
console-updated = Zaktualizowano
console-time = Czas
console-who = Kto
console-action = Czynność
console-subject = Dotyczy
console-details = Szczegóły
console-client = Adres klienta
console-kind = Rodzaj
console-kind-unplanned = awaria nieplanowana
console-kind-planned = prace planowane
console-public-page = Strona publiczna
console-deliveries = Wiadomości
console-channel = Kanał
console-channel-email = e-mail
console-channel-sms = SMS
console-pending = Oczekuje
console-sent = Wysłane
console-failed = Nieudane
console-change = Zmiana
console-change-hint = Przed każdą zmianą widać, co i do ilu osób zostanie wysłane.
console-etr-plus-30m = +30 min
console-etr-plus-1h = +1 godz.
console-etr-plus-2h = +2 godz.
console-etr-unknown = Jeszcze nieoszacowany
console-etr-custom = Inny czas
console-review = Sprawdź
console-new-cause = Nowa przyczyna
console-end = Zakończenie
console-restore = Oznacz jako usuniętą
console-cancel = Odwołaj awarię
console-history = Historia
console-change-declared = zgłoszona
console-change-updated = zaktualizowana
console-change-started = rozpoczęta
console-change-restored = usunięta
console-change-cancelled = odwołana
console-change-applied = Zmiana została wprowadzona; wiadomości są w drodze.
console-review-title = Sprawdź przed wysłaniem
console-review-restore = Stan: usunięta. Wszyscy powiadomieni dowiedzą się, że awaria się skończyła.
console-review-cancel = Stan: odwołana. Wszyscy powiadomieni dowiedzą się, że awaria została odwołana.
console-review-message = Dodatkowa wiadomość się zmienia: wszyscy już powiadomieni otrzymają powiadomienie ponownie z nią.
console-area-change = Obszar
console-area-redraw = Narysuj obszar na mapie od nowa
console-extend = Rozszerz obszar o { $count } zgłoszeń braku usługi tuż obok niego
console-area-now = Awaria obejmuje teraz { $count } adresów.
console-review-area = Obszar: { $before } → { $after } adresów ({ $added } dodanych, { $removed } wyłączonych).
console-review-area-reach = { $email } adresów e-mail i { $sms } numerów telefonów pod dodanymi adresami otrzyma powiadomienie o awarii; kto został powiadomiony pod { $removed } wyłączonymi adresami, dowie się, że już go nie obejmuje.
console-review-reach = Wysyłka na { $email } adresów e-mail
console-review-reach-sms = i { $sms } numerów telefonu już powiadomionych o tej awarii.
console-review-queued = { $count } oczekujących wiadomości poda nowy stan, gdy zostaną wysłane.
console-sms-count = { $units } znaków
console-sms-segments = { $segments } SMS
console-email = E-mail
console-ivr = System telefoniczny
console-confirm = Wyślij
console-back = Wróć bez zmian
console-deliveries-csv = Pobierz wszystkie wiadomości jako CSV
console-calls = Kto zadzwonił, zanim został powiadomiony
console-calls-hint = Dzwoniący do systemu telefonicznego, których adres jest objęty tą awarią, oraz czy wiadomość o niej dotarła na ich numer przed pierwszym połączeniem.
console-calls-callers = Dzwoniący
console-calls-told = Powiadomieni przed połączeniem
console-calls-share = Odsetek powiadomionych przed połączeniem
console-calls-lead = Mediana czasu od wiadomości do połączenia
console-reports = Zgłoszenia mieszkańców o braku dostawy
console-reports-inside = W obszarze, w czasie awarii
console-reports-still-out = Nadal brak w ciągu doby po przywróceniu
console-reports-still-out-last = { $count }, ostatnio { $time }
console-calls-none = jeszcze brak
console-duration-under-minute = poniżej minuty
console-duration-minutes = { $minutes } min
console-duration-hours = { $hours } godz. { $minutes } min
console-live-updated = Dane z { $time }
console-live-changed = Ta awaria zmieniła się od załadowania strony.
console-live-reload = Odśwież stronę
console-new = Zgłoś awarię
console-new-title = Zgłoś awarię
console-map-label = Mapa: narysuj obszar awarii
console-map-hint = Narysuj obszar narzędziami w lewym górnym rogu mapy: wielokąt lub prostokąt, wycięcie otworu, edycja wierzchołków, usuwanie. Bez myszy wklej obszar jako GeoJSON poniżej albo wgraj plik. Niebieskie punkty to adresy (większe, jaśniejsze oznaczają wiele adresów); przerywane obrysy to otwarte awarie.
console-preview = Kogo obejmuje
console-preview-email = Kontakty e-mail
console-preview-sms = Kontakty SMS
console-preview-settlements = Miejscowości
console-preview-streets = Ulice
console-preview-empty = Obszar nie obejmuje żadnego adresu: nikt nie zostałby powiadomiony.
console-preview-large = Obszar obejmuje ponad { $count } adresów. Sprawdź, czy o to chodziło.
console-starts-at = Początek prac
console-starts-at-hint = Tylko prace planowane: kiedy prace się zaczynają.
console-etr-empty-hint = Zostaw puste, jeśli jeszcze nie oszacowano.
console-urgent = Pilne (wyciek gazu, woda niezdatna do picia): wysyłane od razu, o każdej porze
console-urgency = Pilność
console-messages = Dodatkowa wiadomość (opcjonalnie)
console-messages-hint = Dołączana do powiadomienia w każdym języku, np. gdzie stoi beczkowóz.
console-area = Obszar (GeoJSON)
console-area-hint = Wypełnia się podczas rysowania. Można tu też wkleić GeoJSON Polygon lub MultiPolygon.
console-area-file = Albo wgraj plik GeoJSON
console-declare-reach = { $addresses } adresów.
console-declare-reach-sms = i { $sms } numerów telefonów.
console-undo-hint = Po wysłaniu wiadomości czekają { $seconds } s, więc można jeszcze cofnąć.
console-back-edit = Wróć do mapy
console-undo = Cofnij: nic nie wysyłaj
console-undo-until = Wiadomości zaczną wychodzić o { $time }.
console-undone = Cofnięto: nic nie wysłano, a awaria została odwołana.
console-declared = Zgłoszono.
console-sample-reference = Numer zgłoszenia zostanie nadany przy wysłaniu; poniższy jest przykładem tej samej długości.
console-failures = Nieudane ostatecznie
console-recipient = Do
console-message = Wiadomość
console-attempts = Próby
console-reason = Powód
console-retry-dead = Ponów nieudane wiadomości

## Odpowiedzi na SMS-y (src/inbound.rs). Słowa kluczowe wielkimi literami.
sms-reply-stopped = { $sender }: nie wyślemy więcej SMS-ów. Aby znów otrzymywać powiadomienia, odpisz START
sms-reply-started = { $sender }: powiadomienia SMS o awariach pod Twoim adresem są znów włączone. Aby się wypisać, odpisz STOP
sms-reply-started-unknown = { $sender }: nie mamy adresu dla tego numeru. Zapisz się na powiadomienia: { $url }
sms-reply-help = { $sender }: powiadomienia o awariach pod Twoim adresem. STAN: aktualna sytuacja, BRAK: zgłoś brak dostawy, STOP: wypisz się. Strona: { $url }
sms-reply-unknown-number = Nie mamy adresu dla tego numeru. Sprawdź swój adres: { $url }
sms-reply-none = Nie wiemy o żadnej awarii: { $place }.
sms-reply-line = { $title }: { $place }. Usunięcie: { $etr }. Nr { $reference }
sms-reply-line-planned = { $title }: { $place }, { $starts }. Koniec: { $etr }. Nr { $reference }
sms-reply-ended = { $status ->
    [restored] Awaria { $reference } została usunięta.
   *[cancelled] Powiadomienie { $reference } zostało odwołane.
}
sms-reply-no-reference = Nie znamy awarii { $reference }. Sprawdź numer.
sms-reply-did-you-mean = Czy chodziło o { $reference }?
sms-reply-which-service = Czego brakuje? Odpisz na przykład BRAK PRĄDU lub BRAK WODY.
sms-reply-report-known = Dziękujemy. { $line }
sms-reply-report-new = Dziękujemy: nie wiedzieliśmy o awarii: { $place }; dyspozytorzy zostali powiadomieni.
sms-reply-report-still-out = Dziękujemy: dyspozytorzy wiedzą, że po { $reference } nadal brak usługi ({ $utility-name }): { $place }.

# The manage page (/manage/{link}): a resident's own settings and data.
email-manage = Zarządzaj powiadomieniami
sms-reply-manage = Ustawienia: { $url }
page-manage-title = Twoje powiadomienia o awariach
page-manage-intro = Powiadomienia na { $destination } dla tych adresów:
page-manage-receiving = otrzymujesz powiadomienia
page-manage-stopped = wstrzymane
page-manage-undeliverable = wiadomości do Ciebie nie dochodzą; potwierdź adres ponownie na stronie zapisu
page-manage-stop-address = Wstrzymaj powiadomienia dla tego adresu
page-manage-settings = Ustawienia
page-manage-language = Język powiadomień
page-manage-window = Godziny, w których przyjmujesz powiadomienia
page-manage-window-hint = Na przykład 07:00-21:00, czasu lokalnego; puste pole oznacza dowolną porę. Pilne powiadomienia o bezpieczeństwie (wyciek gazu, woda niezdatna do picia) przychodzą o każdej porze.
page-manage-utilities = Usługi, o których chcesz wiedzieć
page-manage-utilities-hint = Nie zaznaczaj żadnej, aby otrzymywać o wszystkich.
page-manage-save = Zapisz ustawienia
page-manage-saved = Ustawienia zapisane.
page-manage-add = Dodaj inny adres lub powiadomienia SMS
page-manage-stop = Wstrzymaj wszystko
page-manage-stop-text = Żadnych powiadomień na { $destination } dla żadnego adresu. W każdej chwili możesz zapisać się ponownie.
page-manage-stop-button = Wstrzymaj wszystkie powiadomienia
page-manage-stopped-all = Nie będziemy już wysyłać powiadomień na { $destination }.
page-manage-export = Twoje dane
page-manage-export-text = Wszystko, co Herald o Tobie przechowuje: dane kontaktowe, zapisy, historię zgód i wysłane wiadomości.
page-manage-export-link = Pobierz moje dane (JSON)
page-manage-delete = Usuń moje dane
page-manage-delete-text = Usuniemy Twoje dane kontaktowe, zapisy, historię zgód i wysłane wiadomości. Herald zachowa tylko jednokierunkowy kod { $destination }, aby lista klientów dostawcy nie mogła dodać go ponownie.
page-manage-delete-confirm = Tak, usuńcie moje dane
page-manage-delete-unconfirmed = Zaznacz pole, aby potwierdzić, że chcesz usunąć swoje dane.
page-manage-delete-button = Usuń moje dane
page-manage-deleted-title = Twoje dane zostały usunięte
page-manage-deleted = Herald nie przechowuje już Twoich danych kontaktowych ani wysłanych do Ciebie wiadomości.
page-manage-expired-title = Ten link wygasł
page-manage-expired = Dla Twojej prywatności linki do tej strony działają przez ograniczony czas. Użyj linku z nowszego e-maila z powiadomieniem albo wyślij POMOC na numer powiadomień, aby dostać nowy.
page-manage-invalid-title = Ten link nie działa
page-manage-invalid = Sprawdź, czy skopiowano cały link, albo użyj linku z nowszego e-maila z powiadomieniem.
page-manage-window-invalid = Wpisz godziny w postaci 07:00-21:00 albo zostaw pole puste, aby otrzymywać o każdej porze.
manage-link-subject = Link do zarządzania powiadomieniami o awariach
manage-link-intro = Ktoś, miejmy nadzieję, że Ty, poprosił o link do zarządzania powiadomieniami o awariach otrzymywanymi przez { $channel }.
manage-link-action = Otwórz go, aby zmienić ustawienia, pobrać lub usunąć swoje dane:
manage-link-button = Zarządzaj powiadomieniami
manage-link-ignore = Jeśli to nie Ty, zignoruj tę wiadomość: nic się nie zmieni.
manage-link-footer = Otrzymujesz tę wiadomość, ponieważ ten adres podano na naszej stronie o awariach.
manage-link-sms = Zarządzaj powiadomieniami o awariach: { $url } (zignoruj, jeśli to nie Ty)
page-manage-request-title = Zarządzaj powiadomieniami
page-manage-request-intro = Podaj adres e-mail lub numer komórki, na który dostajesz powiadomienia. Wyślemy na niego link do ustawień, Twoich danych i ich usunięcia.
page-manage-request-label = Adres e-mail lub numer komórki
page-manage-request-button = Wyślij mi link
page-manage-request-sent = Jeśli { $destination } otrzymuje nasze powiadomienia, link do zarządzania nimi jest w drodze. Może to potrwać kilka minut; możesz poprosić najwyżej { $times } razy dziennie.
page-manage-request-invalid = Podaj adres e-mail, np. imie@example.pl, lub numer komórki, np. 600 123 456.
page-subscribe-manage = Już dostajesz powiadomienia? Zarządzaj nimi
page-manage-move = Przeprowadzka? Przenieś powiadomienia na inny adres
page-manage-move-find = Znajdź nowy adres
page-manage-move-from = Zamiast
page-manage-move-button = Przenieś tu moje powiadomienia
page-manage-moved = Powiadomienia dotyczą teraz adresu { $address }.
