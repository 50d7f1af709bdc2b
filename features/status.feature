Feature: Status
  As a client of the service
  I want to read the shared state together with the server's time and uptime
  So that I know what the service holds and that it is alive

  Background:
    Given the service is running

  Scenario: The status shows the state, the time and the uptime
    When a client asks for the status
    Then the answer is 200
    And the answer is JSON
    And the status holds a whole-number counter and a text message
    And the status time is written in UTC as ISO 8601, to the microsecond, ending in Z
    And the status time is now
    And the uptime is a number of seconds, not negative

  Scenario: The status shows the latest update
    Given the state is counter 42 and message "status check"
    When a client asks for the status
    Then the answer is 200
    And the state answered is counter 42 and message "status check"

  Scenario: The time and the uptime move on while the service runs
    When a client asks for the status twice, a moment apart
    Then the status time moved on by the time that passed between the two answers
    And the uptime grew by the time that passed between the two answers

  Scenario: The service says when it is healthy
    When a client asks whether the service is healthy
    Then the answer is 200
    And the answer is JSON
    And the service says it is "ok"

  Scenario: The service describes its API
    When a client asks for the description of the API
    Then the answer is 200
    And the answer is JSON
    And the description names every endpoint: /status, /update, /logs and /health

  Scenario: The service offers a page to try its API
    When a client asks for the page to try the API
    Then the answer is 200
    And the answer is a web page
