# instance la12
# Lawrence 20x5 instance (Table 5, instance 2); also called (seth2) or H2
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 20 5
 1 23 0 82 4 84 2 45 3 38
 3 50 4 41 1 29 0 18 2 21
 4 16 3 54 1 52 2 38 0 52
 1 62 3 57 4 37 2 74 0 54
 3 68 1 61 2 30 0 81 4 57
 1 89 2 89 3 11 0 79 4 81
 1 66 0 91 3 33 4 20 2 20
 3  8 4 24 2 55 0 32 1 84
 0  7 2 64 1 39 4 56 3 54
 0 19 4 40 3  7 2  8 1 83
 0 63 2 64 3 91 4 40 1  6
 1 42 3 61 4 15 2 98 0 74
 1 80 0 26 3 75 4  6 2 87
 2 39 4 22 0 75 3 24 1 44
 1 15 3 79 4  8 0 12 2 20
 3 26 2 43 0 80 4 22 1 61
 2 62 1 36 0 63 3 96 4 40
 1 33 3 18 0 22 4  5 2 10
 2 64 4 64 0 89 1 96 3 95
 2 18 4 23 3 15 1 38 0  8
