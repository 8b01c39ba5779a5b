"""Raw HTTP against the live service: every captured client request shape (fixtures/), HTTP status rules, faults on
the wire, and the WSDL endpoint (case-insensitive `?wsdl`, a reachable soap:address).

What it deliberately is not: a parser unit test. The soap crate tests its parser on these shapes in-process; here
the same shapes go through the real front end and replica, and a listing proves that every field arrived.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree

from cineflix_dates import movie_id, show_date

NS = "urn:cineflix:booking:v1"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
FIXTURES = Path(__file__).parent / "fixtures"
TEXT_XML = "text/xml; charset=utf-8"
SOAP12_XML = "application/soap+xml; charset=utf-8"

# Content type and SOAPAction each client sent (fixtures/README.md); None: no SOAPAction header.
FIXTURE_HEADERS = {
    "zeep-soap11.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "zeep-soap12.xml": (SOAP12_XML + '; action="urn:cineflix:booking:v1/addMovieSlots"',
                        '"urn:cineflix:booking:v1/addMovieSlots"'),
    "suds.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "node-soap.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "jaxws.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "mono-asmx.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "soapui-style.xml": ("text/xml;charset=UTF-8", '"urn:cineflix:booking:v1/addMovieSlots"'),
    "zeep-wssecurity-digest-header.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
    "node-soap-wssecurity-header.xml": (TEXT_XML, '"urn:cineflix:booking:v1/addMovieSlots"'),
}
MUST_UNDERSTAND_FIXTURES = {"node-soap-wssecurity-header.xml"}

SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def fixture_body(name: str) -> bytes:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return text.replace("{{DDMMYY}}", f"{show_date(1):%d%m%y}").encode("utf-8")


def post(url: str, body: bytes | str, content_type: str = TEXT_XML, soap_action: str | None = '""',
         **headers) -> requests.Response:
    if isinstance(body, str):
        body = body.encode("utf-8")
    sent = {"Content-Type": content_type, **headers}
    if soap_action is not None:
        sent["SOAPAction"] = soap_action
    return requests.post(url, data=body, headers=sent, timeout=15)


def envelope11(payload: str) -> str:
    return f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>{payload}</s:Body></s:Envelope>'


def envelope12(payload: str) -> str:
    return f'<e:Envelope xmlns:e="{SOAP12}"><e:Body>{payload}</e:Body></e:Envelope>'


def list_avatar_payload(movie: str = "Avatar") -> str:
    return f'<listMovieShowsAvailability xmlns="{NS}"><userID>ATWC0001</userID><movieName>{movie}</movieName>' \
           "</listMovieShowsAvailability>"


def body_child(response: requests.Response, envelope_ns: str) -> etree._Element:
    root = etree.fromstring(response.content, SAFE_PARSER)
    assert root.tag == f"{{{envelope_ns}}}Envelope", response.text
    body = root.find(f"{{{envelope_ns}}}Body")
    assert body is not None and len(body) == 1, response.text
    return body[0]


def result_of(response_element: etree._Element) -> tuple[str, str]:
    result = response_element.find(f"{{{NS}}}result")
    assert result is not None, etree.tostring(response_element)
    return result.findtext(f"{{{NS}}}success"), result.findtext(f"{{{NS}}}code")


def listed_avatar_shows(cluster) -> list[tuple[str, int]]:
    response = post(cluster.endpoint, envelope11(list_avatar_payload()))
    assert response.status_code == 200, response.text
    answer = body_child(response, SOAP11)
    assert answer.tag == f"{{{NS}}}listMovieShowsAvailabilityResponse"
    assert result_of(answer) == ("true", "OK")
    return [(show.findtext(f"{{{NS}}}movieID"), int(show.findtext(f"{{{NS}}}capacity")))
            for show in answer.findall(f"{{{NS}}}show")]


def assert_soap11_fault(response: requests.Response, faultcode_local: str, detail_code: str) -> str:
    """Checks a SOAP 1.1 fault as strict clients read it; returns its faultstring."""
    assert response.status_code == 500, (response.status_code, response.text)
    assert response.headers["Content-Type"].lower().replace(" ", "") == "text/xml;charset=utf-8"
    fault = body_child(response, SOAP11)
    assert fault.tag == f"{{{SOAP11}}}Fault"
    # faultcode/faultstring/detail are unqualified (zeep looks them up without a namespace).
    assert [child.tag for child in fault if child.tag != "faultactor"] == ["faultcode", "faultstring", "detail"]
    prefix, _, local = fault.findtext("faultcode").rpartition(":")
    assert local == faultcode_local
    assert fault.nsmap.get(prefix) == SOAP11 or fault.find("faultcode").nsmap.get(prefix) == SOAP11
    error = fault.find(f"detail/{{{NS}}}ServiceError")
    assert error is not None, response.text
    assert error.findtext(f"{{{NS}}}code") == detail_code
    assert error.findtext(f"{{{NS}}}message").strip()
    return fault.findtext("faultstring")


@pytest.mark.parametrize("fixture_name", sorted(FIXTURE_HEADERS))
def test_client_request_shape_reaches_the_service(cluster, fixture_name):
    body = fixture_body(fixture_name)
    sent = etree.fromstring(body, SAFE_PARSER)
    sent_movie_id = sent.findtext(f".//{{{NS}}}movieID")
    sent_capacity = int(sent.findtext(f".//{{{NS}}}bookingCapacity"))
    content_type, soap_action = FIXTURE_HEADERS[fixture_name]
    envelope_ns = etree.QName(sent).namespace

    response = post(cluster.endpoint, body, content_type, soap_action)

    if fixture_name in MUST_UNDERSTAND_FIXTURES:
        assert_soap11_fault(response, "MustUnderstand", "MUST_UNDERSTAND")
        assert listed_avatar_shows(cluster) == []
        return
    assert response.status_code == 200, response.text
    expected_type = "text/xml" if envelope_ns == SOAP11 else "application/soap+xml"
    assert response.headers["Content-Type"].lower().replace(" ", "") == f"{expected_type};charset=utf-8"
    answer = body_child(response, envelope_ns)
    assert answer.tag == f"{{{NS}}}addMovieSlotsResponse"
    assert result_of(answer) == ("true", "OK")
    assert listed_avatar_shows(cluster) == [(sent_movie_id, sent_capacity)]


@pytest.mark.parametrize("soap_action", ['"urn:cineflix:booking:v1/addMovieSlots"', "urn:cineflix:booking:v1/x",
                                         '""', "", None, '"urn:cineflix:booking:v1/removeMovieSlots"'])
def test_dispatch_ignores_soap_action(shared_cluster, soap_action):
    response = post(shared_cluster.endpoint, envelope11(list_avatar_payload()), soap_action=soap_action)
    assert response.status_code == 200, response.text
    assert body_child(response, SOAP11).tag == f"{{{NS}}}listMovieShowsAvailabilityResponse"


def test_byte_order_mark_and_declaration_accepted(shared_cluster):
    body = b"\xef\xbb\xbf" + b'<?xml version="1.0" encoding="UTF-8"?>' + envelope11(list_avatar_payload()).encode()
    response = post(shared_cluster.endpoint, body)
    assert response.status_code == 200, response.text
    assert result_of(body_child(response, SOAP11)) == ("true", "OK")


def test_soap12_request_gets_soap12_answer(shared_cluster):
    response = post(shared_cluster.endpoint, envelope12(list_avatar_payload()), SOAP12_XML, soap_action=None)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].lower().startswith("application/soap+xml")
    assert result_of(body_child(response, SOAP12)) == ("true", "OK")


def test_non_ascii_input_answers_in_utf8(shared_cluster):
    response = post(shared_cluster.endpoint, envelope11(list_avatar_payload("Amélie à Montréal ✓")))
    assert response.status_code == 200, response.text
    assert "charset=utf-8" in response.headers["Content-Type"].lower()
    response.content.decode("utf-8")
    assert result_of(body_child(response, SOAP11)) == ("false", "UNKNOWN_MOVIE")


def test_malformed_xml_is_a_soap11_fault_with_500(shared_cluster):
    response = post(shared_cluster.endpoint, envelope11(list_avatar_payload())[:-20])
    assert_soap11_fault(response, "Client", "MALFORMED_XML")


def test_unknown_operation_is_a_fault(shared_cluster):
    response = post(shared_cluster.endpoint, envelope11(f'<buyPopcorn xmlns="{NS}"><userID>ATWC0001</userID>'
                                                        "</buyPopcorn>"))
    assert_soap11_fault(response, "Client", "UNKNOWN_OPERATION")


def test_operation_in_wrong_namespace_is_unknown(shared_cluster):
    payload = list_avatar_payload().replace(NS, "urn:example:shop")
    assert_soap11_fault(post(shared_cluster.endpoint, envelope11(payload)), "Client", "UNKNOWN_OPERATION")


def test_missing_and_mistyped_elements_are_faults(shared_cluster):
    missing = f'<getBookingSchedule xmlns="{NS}"><userID>ATWC0001</userID></getBookingSchedule>'
    assert_soap11_fault(post(shared_cluster.endpoint, envelope11(missing)), "Client", "MISSING_ELEMENT")
    mistyped = (f'<bookMovieTickets xmlns="{NS}"><userID>ATWC0001</userID><customerID>ATWC0001</customerID>'
                f"<movieID>{movie_id('ATW', 'M', show_date(1))}</movieID><movieName>Avatar</movieName>"
                "<numberOfTickets>two</numberOfTickets></bookMovieTickets>")
    assert_soap11_fault(post(shared_cluster.endpoint, envelope11(mistyped)), "Client", "INVALID_VALUE")


def test_wrong_envelope_namespace_is_version_mismatch(shared_cluster):
    body = f'<s:Envelope xmlns:s="urn:not-soap"><s:Body>{list_avatar_payload()}</s:Body></s:Envelope>'
    assert_soap11_fault(post(shared_cluster.endpoint, body), "VersionMismatch", "VERSION_MISMATCH")


def test_doctype_is_rejected_without_expanding_entities(shared_cluster):
    body = ('<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY boom "BOOMBOOMBOOM">]>'
            + envelope11(list_avatar_payload("&boom;")))
    response = post(shared_cluster.endpoint, body)
    faultstring = assert_soap11_fault(response, "Client", "DOCTYPE_FORBIDDEN")
    assert "BOOMBOOMBOOM" not in response.text, faultstring


def test_soap12_faults_are_sender_400_with_reason(shared_cluster):
    # Well-formed, so the server knows it is SOAP 1.2 (a malformed body may not say which version it is).
    missing = f'<getBookingSchedule xmlns="{NS}"><userID>ATWC0001</userID></getBookingSchedule>'
    response = post(shared_cluster.endpoint, envelope12(missing), SOAP12_XML, soap_action=None)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].lower().startswith("application/soap+xml")
    fault = body_child(response, SOAP12)
    assert fault.tag == f"{{{SOAP12}}}Fault"
    value = fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value")
    prefix, _, local = value.rpartition(":")
    assert local == "Sender" and fault.find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value").nsmap[prefix] == SOAP12
    text = fault.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")
    assert text is not None and text.text.strip()
    assert text.get("{http://www.w3.org/XML/1998/namespace}lang")
    assert fault.find(f"{{{SOAP12}}}Detail/{{{NS}}}ServiceError/{{{NS}}}code").text == "MISSING_ELEMENT"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_methods_other_than_post_get_405(shared_cluster, method):
    response = requests.request(method, shared_cluster.endpoint, data=b"x", timeout=5)
    assert response.status_code == 405


def test_get_without_wsdl_query_is_405(shared_cluster):
    assert requests.get(shared_cluster.endpoint, timeout=5).status_code == 405


def test_other_paths_are_404(shared_cluster):
    assert requests.get(f"{shared_cluster.base_url}/other?wsdl", timeout=5).status_code == 404
    assert post(f"{shared_cluster.base_url}/other", envelope11(list_avatar_payload())).status_code == 404


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
def test_non_soap_content_type_is_415(shared_cluster, content_type):
    response = post(shared_cluster.endpoint, envelope11(list_avatar_payload()), content_type)
    assert response.status_code == 415


def test_body_over_limit_is_413(shared_cluster):
    # The test config sets max_body_bytes = 65536.
    padding = "<!--" + "x" * 70_000 + "-->"
    response = post(shared_cluster.endpoint, envelope11(list_avatar_payload()) + padding)
    assert response.status_code == 413
    # Just under the limit is still served.
    padding = "<!--" + "x" * 60_000 + "-->"
    assert post(shared_cluster.endpoint, envelope11(list_avatar_payload()) + padding).status_code == 200


def wsdl_addresses(wsdl_text: bytes) -> list[str]:
    root = etree.fromstring(wsdl_text, SAFE_PARSER)
    assert root.tag == f"{{{WSDL_NS}}}definitions"
    return [address.get("location") for address in root.iter("{*}address")]


@pytest.mark.parametrize("query", ["wsdl", "WSDL", "Wsdl"])
def test_wsdl_query_is_case_insensitive_and_address_is_the_url_used(shared_cluster, query):
    response = requests.get(f"{shared_cluster.endpoint}?{query}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].lower().startswith(("text/xml", "application/xml"))
    assert wsdl_addresses(response.content) == [shared_cluster.endpoint, shared_cluster.endpoint]


def test_wsdl_address_follows_host_header_and_is_reachable(shared_cluster):
    response = requests.get(shared_cluster.wsdl_url, headers={"Host": "tickets.example.test:8443"}, timeout=5)
    assert wsdl_addresses(response.content) == ["http://tickets.example.test:8443/cineflix"] * 2
    reachable = requests.get(shared_cluster.wsdl_url, timeout=5)
    for address in wsdl_addresses(reachable.content):
        assert "0.0.0.0" not in address
        answer = post(address, envelope11(list_avatar_payload()))
        assert answer.status_code == 200


def test_configured_public_url_wins(start_custom_cluster):
    deployment = start_custom_cluster(public_url="http://tickets.example.test/cineflix")
    response = requests.get(deployment.wsdl_url, timeout=5)
    assert wsdl_addresses(response.content) == ["http://tickets.example.test/cineflix"] * 2
