// CineflixJaxwsTest: a hand-written Java JAX-WS client of CineFlix, compiled against the classes that `wsimport`
// generated from the LIVE WSDL (package cineflix.client), and run against the live service by run_jaxws.py.
//
// What it is: proof that a typed JAX-WS client works unchanged: every operation through the generated port
// interface on both the SOAP 1.1 and the SOAP 1.2 port (wsimport -extension), answers checked, and a server fault
// raised as the typed ServiceErrorFault exception declared in the WSDL.
// What it deliberately is not: a booking-rules suite (tests/system/test_zeep.py and the booking crate do that).
//
// Usage: java -cp <generated classes>:<jaxws jars>:. CineflixJaxwsTest <wsdl url> <tomorrow as DDMMYY> <today+8 as DDMMYY>
// Dates come from the caller, which computes them in the theatres' time zone. Exit status 0 only if every check passed.

import cineflix.client.Booking;
import cineflix.client.Cineflix;
import cineflix.client.CineflixService;
import cineflix.client.MovedBooking;
import cineflix.client.Result;
import cineflix.client.ResultCode;
import cineflix.client.ServiceErrorFault;
import cineflix.client.Show;
import cineflix.client.Slot;
import cineflix.client.Theatre;
import java.net.URL;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;

public final class CineflixJaxwsTest {
    private static int failures = 0;
    private static int checks = 0;

    private static void check(boolean condition, String what) {
        checks++;
        if (!condition) {
            failures++;
            System.out.println("FAIL " + what);
        }
    }

    private static void checkEquals(Object expected, Object actual, String what) {
        check(Objects.equals(expected, actual), what + ": expected <" + expected + "> but was <" + actual + ">");
    }

    private static void checkResult(Result result, ResultCode code, String what) {
        if (result == null) {
            check(false, what + ": no result");
            return;
        }
        checkEquals(code, result.getCode(), what + " code (message: " + result.getMessage() + ")");
        checkEquals(code == ResultCode.OK, result.isSuccess(), what + " success");
        check(result.getMessage() != null && !result.getMessage().isBlank(), what + ": message is empty");
    }

    /** Runs every operation through one port. Each port uses its own movie and customers, so runs do not overlap. */
    private static void exercise(Cineflix port, String portName, String movie, String customerNumber,
                                 String tomorrow, String outOfWindow) throws ServiceErrorFault {
        String p = portName + ": ";
        String admin = "ATWA0001";
        String customer = "ATWC" + customerNumber;
        String morning = "ATWM" + tomorrow;
        String evening = "ATWE" + tomorrow;

        checkResult(port.addMovieSlots(admin, morning, movie, 5), ResultCode.OK, p + "add morning");
        checkResult(port.addMovieSlots(admin, evening.toLowerCase(), movie.toUpperCase(), 3), ResultCode.OK,
                p + "add evening (odd letter case)");
        checkResult(port.addMovieSlots(customer, evening, movie, 3), ResultCode.NOT_AUTHORIZED, p + "customer adds");
        checkResult(port.addMovieSlots(admin, "ATWM" + outOfWindow, movie, 3), ResultCode.DATE_OUT_OF_WINDOW,
                p + "add beyond a week");
        checkResult(port.addMovieSlots(admin, morning, "Matrix", 3), ResultCode.UNKNOWN_MOVIE, p + "unknown movie");

        Holder<Result> listResult = new Holder<>();
        Holder<List<Show>> shows = new Holder<>();
        port.listMovieShowsAvailability("OUTC0001", movie.toLowerCase(), listResult, shows);
        checkResult(listResult.value, ResultCode.OK, p + "list");
        List<String> listed = new ArrayList<>();
        for (Show show : shows.value) {
            listed.add(show.getMovieID() + " " + show.getMovieName() + " " + show.getTheatre() + " " + show.getSlot()
                    + " " + show.getCapacity() + "/" + show.getAvailable());
            checkEquals(Theatre.ATW, show.getTheatre(), p + "listed theatre");
            checkEquals(2000 + Integer.parseInt(tomorrow.substring(4, 6)), show.getDate().getYear(), p + "year");
            checkEquals(Integer.parseInt(tomorrow.substring(2, 4)), show.getDate().getMonth(), p + "month");
            checkEquals(Integer.parseInt(tomorrow.substring(0, 2)), show.getDate().getDay(), p + "day");
        }
        checkEquals(List.of(morning + " " + movie + " ATW MORNING 5/5", evening + " " + movie + " ATW EVENING 3/3"),
                listed, p + "listing");
        check(shows.value.isEmpty() || shows.value.get(0).getSlot() == Slot.MORNING, p + "slot enum");

        checkResult(port.bookMovieTickets(customer, customer, morning, movie, 2), ResultCode.OK, p + "book");
        checkResult(port.bookMovieTickets(customer, customer, morning, movie, 10), ResultCode.SOLD_OUT,
                p + "book too many");
        checkResult(port.bookMovieTickets("ATWA0002", customer, morning, movie, 1), ResultCode.OK,
                p + "admin books on behalf");
        checkResult(port.bookMovieTickets("OUTA0001", customer, morning, movie, 1), ResultCode.NOT_AUTHORIZED,
                p + "other theatre's admin books");
        checkResult(port.exchangeTickets(customer, customer, morning, movie, evening, movie, 1), ResultCode.OK,
                p + "exchange");
        checkResult(port.cancelMovieTickets(customer, customer, evening, movie, 1), ResultCode.OK, p + "cancel");
        checkResult(port.cancelMovieTickets(customer, customer, morning, movie, 5), ResultCode.NOT_ENOUGH_TICKETS,
                p + "cancel too many");
        checkResult(port.cancelMovieTickets(customer, customer, evening, movie, 1), ResultCode.NO_BOOKING,
                p + "cancel without booking");

        Holder<Result> scheduleResult = new Holder<>();
        Holder<List<Booking>> bookings = new Holder<>();
        port.getBookingSchedule(customer, customer, scheduleResult, bookings);
        checkResult(scheduleResult.value, ResultCode.OK, p + "schedule");
        List<String> scheduled = new ArrayList<>();
        for (Booking booking : bookings.value) {
            scheduled.add(booking.getMovieID() + " " + booking.getSlot() + " " + booking.getTickets());
        }
        checkEquals(List.of(morning + " MORNING 2"), scheduled, p + "schedule entries");

        Holder<Result> removeResult = new Holder<>();
        Holder<List<MovedBooking>> moved = new Holder<>();
        port.removeMovieSlots(admin, morning, movie, removeResult, moved);
        checkResult(removeResult.value, ResultCode.OK, p + "remove");
        List<String> movedText = new ArrayList<>();
        for (MovedBooking booking : moved.value) {
            movedText.add(booking.getCustomerID() + " " + booking.getTickets() + " " + booking.getNewMovieID() + " "
                    + booking.isCancelled());
        }
        checkEquals(List.of(customer + " 2 " + evening + " false"), movedText, p + "moved bookings");
        port.removeMovieSlots(admin, morning, movie, removeResult, moved);
        checkResult(removeResult.value, ResultCode.SLOT_NOT_FOUND, p + "remove again");
        check(moved.value == null || moved.value.isEmpty(), p + "remove again moved nothing");

        // A null String is left out of the request: the server answers with a MISSING_ELEMENT fault, which JAX-WS
        // must raise as the typed exception declared by wsdl:fault.
        try {
            port.getBookingSchedule(null, customer, new Holder<>(), new Holder<>());
            check(false, p + "missing userID gave no fault");
        } catch (ServiceErrorFault fault) {
            checkEquals("MISSING_ELEMENT", fault.getFaultInfo().getCode(), p + "fault detail code");
            check(fault.getFaultInfo().getMessage() != null && !fault.getFaultInfo().getMessage().isBlank(),
                    p + "fault detail message is empty");
        } catch (RuntimeException other) {
            check(false, p + "fault was not typed: " + other);
        }
    }

    /** A scenario that may throw anything; an unexpected exception counts as one failure. */
    private interface Scenario {
        void run() throws Exception;
    }

    private static void run(String name, Scenario body) {
        int before = failures;
        try {
            body.run();
        } catch (Exception error) {
            failures++;
            System.out.println("FAIL " + name + ": unexpected " + error);
            error.printStackTrace(System.out);
        }
        System.out.println((failures == before ? "PASS " : "FAILED ") + name);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: CineflixJaxwsTest <wsdl url> <tomorrow DDMMYY> <today+8 DDMMYY>");
            System.exit(2);
        }
        URL wsdl = new URL(args[0]);
        String endpoint = args[0].substring(0, args[0].indexOf('?'));
        CineflixService service = new CineflixService(wsdl);

        Cineflix soap11 = service.getCineflixSoap11();
        checkEquals(endpoint, ((BindingProvider) soap11).getRequestContext()
                .get(BindingProvider.ENDPOINT_ADDRESS_PROPERTY), "SOAP 1.1 endpoint address from the WSDL");
        run("soap11", () -> exercise(soap11, "soap11", "Avatar", "0011", args[1], args[2]));

        Cineflix soap12 = service.getCineflixSoap12();
        check(((BindingProvider) soap12).getBinding() instanceof javax.xml.ws.soap.SOAPBinding
                && javax.xml.ws.soap.SOAPBinding.SOAP12HTTP_BINDING.equals(
                        ((BindingProvider) soap12).getBinding().getBindingID()), "SOAP 1.2 port uses SOAP 1.2");
        run("soap12", () -> exercise(soap12, "soap12", "Titanic", "0012", args[1], args[2]));

        System.out.println(checks + " checks, " + failures + " failed");
        System.exit(failures == 0 ? 0 : 1);
    }
}
