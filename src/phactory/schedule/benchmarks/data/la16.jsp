# instance la16
# Lawrence 10x10 instance (Table 6, instance 1); also called (seta1) or (A1)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 10
 1 21 6 71 9 16 8 52 7 26 2 34 0 53 4 21 3 55 5 95
 4 55 2 31 5 98 9 79 0 12 7 66 1 42 8 77 6 77 3 39
 3 34 2 64 8 62 1 19 4 92 9 79 7 43 6 54 0 83 5 37
 1 87 3 69 2 87 7 38 8 24 9 83 6 41 0 93 5 77 4 60
 2 98 0 44 5 25 6 75 7 43 1 49 4 96 9 77 3 17 8 79
 2 35 3 76 5 28 9 10 4 61 6  9 0 95 8 35 1  7 7 95
 3 16 2 59 0 46 1 91 9 43 8 50 6 52 5 59 4 28 7 27
 1 45 0 87 3 41 4 20 6 54 9 43 8 14 5  9 2 39 7 71
 4 33 2 37 8 66 5 33 3 26 7  8 1 28 6 89 9 42 0 78
 8 69 9 81 2 94 4 96 3 27 0 69 7 45 6 78 1 74 5 84
